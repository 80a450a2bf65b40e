"""Per-item deadlines without signals: work runs in worker processes that are killed on overrun.

math-verify's own timeout uses ``signal.alarm``, which only works on the main thread; verl calls
reward functions from threads and Ray actors. Here each call is sent to a long-lived worker
process over a pipe; when the answer does not come back within the deadline the worker is
killed (SIGKILL, so even a C-level bignum loop stops) and replaced. Workers are started with
``spawn`` (forking a threaded Ray actor can deadlock) and run under an address-space limit so
a pathological expression fails with MemoryError instead of exhausting the host.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

DEFAULT_MEMORY_LIMIT_MB = 4096
_START_TIMEOUT_S = 120.0  # spawning imports sympy; not charged to any item's deadline


def _worker_main(conn, memory_limit_mb: int | None, warmup: str | None) -> None:
    """Worker loop: receive (fn, args), send ("ok", value) or ("error", repr)."""
    if memory_limit_mb:
        try:
            import resource

            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    import logging

    # math-verify warns once per process that its signal timeout is off: deliberate here.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    if warmup:
        try:
            __import__(warmup)
        except Exception:
            pass
    conn.send(("ready", os.getpid()))
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
            reply = ("error", f"{type(e).__name__}: {e}"[:500])
        try:
            conn.send(reply)
        except Exception as e:  # an unpicklable result
            conn.send(("error", f"unpicklable result: {e}"[:500]))


class _Worker:
    def __init__(self, ctx, memory_limit_mb: int | None, warmup: str | None):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, memory_limit_mb, warmup), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False

    def wait_ready(self) -> None:
        if not self.ready:
            if not self.conn.poll(_START_TIMEOUT_S):
                raise RuntimeError("reward worker did not start")
            self.conn.recv()
            self.ready = True

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(timeout=5)
        finally:
            self.conn.close()


class DeadlinePool:
    """``num_workers`` processes; ``run`` executes one call with a deadline, ``map`` many in parallel.

    Thread-safe: each call checks a worker out of an idle queue. Results are ``(status, value)``
    with status ``ok``, ``error`` (the callee raised; value is its message) or ``timeout``.
    """

    def __init__(self, num_workers: int = 2, memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB,
                 warmup: str | None = "math_verify"):
        self.num_workers = max(1, num_workers)
        self._ctx = mp.get_context("spawn")
        self._args = (memory_limit_mb, warmup)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self.restarts = 0
        self._owner_pid = os.getpid()
        for _ in range(self.num_workers):
            self._add(_Worker(self._ctx, *self._args))

    def _add(self, worker: _Worker) -> None:
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        with self._lock:
            self._all.remove(worker)
            self.restarts += 1
        fresh = _Worker(self._ctx, *self._args)
        with self._lock:
            self._all.append(fresh)
        return fresh

    def run(self, fn: Callable, args: tuple, timeout_s: float) -> tuple[str, Any]:
        worker = self._idle.get()
        try:
            try:
                worker.wait_ready()
                worker.conn.send((fn, args))
                if worker.conn.poll(timeout_s):
                    return worker.conn.recv()
                status: tuple[str, Any] = ("timeout", None)
            except Exception as e:  # worker died (e.g. killed by the OOM killer) or pipe broke
                status = ("error", f"{type(e).__name__}: {e}")
            worker = self._replace(worker)
            return status
        finally:
            self._idle.put(worker)

    def map(self, fn: Callable, args_list: Sequence[tuple], timeout_s: float) -> list[tuple[str, Any]]:
        if not args_list:
            return []
        with ThreadPoolExecutor(self.num_workers) as threads:
            return list(threads.map(lambda a: self.run(fn, a, timeout_s), args_list))

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for w in workers:
            try:
                w.conn.send(None)
            except Exception:
                pass
            w.kill()


_pools: dict[int, DeadlinePool] = {}
_pools_lock = threading.Lock()


def get_pool(num_workers: int | None = None) -> DeadlinePool:
    """The process-wide pool of that size (created on first use, closed at exit).

    Default size: ``SIRI_VERL_REWARD_WORKERS`` or 1 — enough for one-at-a-time ``compute_score``,
    whose fast path runs in-process and sends only the hard items here.
    """
    n = num_workers or int(os.environ.get("SIRI_VERL_REWARD_WORKERS", "1"))
    with _pools_lock:
        if n not in _pools or os.getpid() != _pools[n]._owner_pid:
            _pools[n] = DeadlinePool(n)
        return _pools[n]


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools.values()):
        if pool._owner_pid == os.getpid():
            pool.close()
