"""The checker worker process: its own entry point, so no caller's ``__main__`` is ever re-run.

``deadline.DeadlinePool`` starts each worker as ``python -c BOOT`` (:data:`BOOT`), not with
multiprocessing's ``spawn`` or ``forkserver``: both re-import the caller's main module in the
child (``__mp_main__``, from ``sys.modules['__main__'].__file__``), which runs a script without
an ``if __name__ == "__main__":`` guard a second time and breaks outright for a script read from
stdin (``python - <<EOF``: no file to import). ``BOOT`` sets the child's ``sys.path`` to the
caller's, so everything the caller can import the worker can too, and calls :func:`main`.

Protocol over one duplex ``multiprocessing.connection.Connection`` (pickled messages):

- parent -> worker, first: the warm-up callable (or None); worker -> parent:
  ``("ready", pid, warm_up_s)`` once the warm-up has run (``warm_up_s``: its duration), or
  ``("failed", message)`` if anything before that failed (the worker then exits);
- then parent -> worker: ``(fn, args)``; worker -> parent: ``("ok", value)`` or
  ``("error", message)`` when ``fn`` raised; ``None`` or a closed pipe ends the worker.
"""

from __future__ import annotations

import os
import sys

BOOT = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
    "from siri_verl.reward._worker import main; main(*sys.argv[2:])"
)


def describe(error: BaseException) -> str:
    """``MemoryError`` or ``ValueError: message``, at most 500 characters."""
    return (type(error).__name__ + (f": {error}" if str(error) else ""))[:500]


def _limit_address_space(memory_limit_mb: int) -> None:
    if memory_limit_mb > 0:
        import resource

        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _start(conn, memory_limit_mb: int) -> float:
    """Limits, logging and the warm-up; returns the warm-up's seconds."""
    import logging
    import signal
    import time

    # Ctrl-C in the caller's terminal reaches the whole process group; the caller decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_address_space(memory_limit_mb)
    # math-verify warns on every call that its signal timeout is off: deliberate here.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    started = time.perf_counter()
    warm_up = conn.recv()  # unpickling it imports its module (math-verify, sympy)
    if warm_up is not None:
        warm_up()
    return time.perf_counter() - started


def main(fd: str, memory_limit_mb: str = "0") -> None:
    from multiprocessing.connection import Connection

    conn = Connection(int(fd))
    try:
        warm_up_s = _start(conn, int(memory_limit_mb))
    except BaseException as e:  # MemoryError under the address-space limit, a failed import ...
        try:
            conn.send(("failed", describe(e)))
        finally:
            sys.exit(1)
    conn.send(("ready", os.getpid(), warm_up_s))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, args = msg
        try:
            reply = ("ok", fn(*args))
        except BaseException as e:  # MemoryError, RecursionError, sympy's own exceptions ...
            reply = ("error", describe(e))
        try:
            conn.send(reply)
        except OSError:  # the caller is gone
            return
        except Exception as e:  # an unpicklable result
            conn.send(("error", f"unpicklable result: {describe(e)}"))
