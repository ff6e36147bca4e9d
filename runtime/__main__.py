import sys

from .container import exited

# conmon's exit command: an entry point of its own, lean (see exited.py)
if (exit_command := exited.arguments(sys.argv[1:])) is not None:
    raise SystemExit(exited.main(exit_command))

from .cli import main  # noqa: E402

raise SystemExit(main())
