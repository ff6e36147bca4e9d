import sys

if sys.argv[1:2] == ["exited"]:  # conmon's exit command: an entry point of its own, lean (see exited.py)
    from .container.exited import main as exited
    raise SystemExit(exited(sys.argv[2:]))

from .cli import main  # noqa: E402

raise SystemExit(main())
