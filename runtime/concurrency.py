"""Side by side: steps that each wait on the kernel or a subprocess, run in threads at once."""
from __future__ import annotations

import threading


def alongside(*steps) -> None:
    """Run each of ``steps`` (callables) at once, the first in this thread; return when all
    have ended, raising the first one's error there was (in the order given)."""
    errors: list[BaseException | None] = [None] * len(steps)

    def run(index: int) -> None:
        try:
            steps[index]()
        except BaseException as exc:  # handed back to the caller's thread
            errors[index] = exc

    threads = [threading.Thread(target=run, args=(i,), name="berth-alongside") for i in range(1, len(steps))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
