"""Per-item deadlines without signals: work runs in worker processes that are killed on overrun.

math-verify's own timeout uses ``signal.alarm``, which only works on the main thread; verl calls
reward functions from threads and Ray actors. Here each call is sent to a long-lived worker
process over a pipe; when the answer does not come back within the deadline the worker is
killed (SIGKILL, so even a C-level bignum loop stops) and replaced. Workers run under an
address-space limit so a pathological expression fails with MemoryError instead of exhausting
the host.

Workers are started by :mod:`siri_verl.reward._worker`'s own entry point (``python -c``), not
by multiprocessing's ``spawn``/``forkserver`` (which re-run the caller's ``__main__`` in every
child) nor ``fork`` (which can deadlock a threaded Ray actor); so any caller works: a script
from stdin or a file, guarded or not, a notebook, a thread, a Ray actor. Each worker runs the
pool's warm-up (a real parse-and-verify) before it takes work, so a deadline covers the check
only, never the first grammar load.

Failures are never verdicts. A worker that dies on an item (SIGKILL, the OOM killer) or whose
callee raised is replaced and the item retried once on the fresh worker. When no worker can be
started at all, the item runs in the calling process if a deadline can still bound it there
(the main thread, with SIGALRM), and otherwise comes back as ``("error", why)``.

Settings (environment, read by :func:`get_pool`): ``SIRI_VERL_REWARD_WORKERS`` (default pool
size, 1) and ``SIRI_VERL_REWARD_MEMORY_MB`` (each worker's address-space limit, default 4096;
0 for none).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Pipe
from typing import Any, Callable, Sequence

from siri_verl.reward._worker import BOOT, describe

logger = logging.getLogger("siri_verl.reward")

DEFAULT_MEMORY_LIMIT_MB = 4096
_START_TIMEOUT_S = 120.0  # interpreter start, imports and warm-up; not charged to any item's deadline
# After this many starts in a row have failed, stop starting workers for _START_BACKOFF_S: every
# item would otherwise pay for two doomed interpreter starts.
_START_FAILURES_BEFORE_BACKOFF = 2
_START_BACKOFF_S = 30.0
# Status of an item no worker could even start for (internal: ``run`` resolves it).
_UNSTARTED = "unstarted"

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(key: str, message: str) -> None:
    """``logging.warning(message)`` the first time ``key`` is seen in this process."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(message)


class WorkerStartError(RuntimeError):
    """The worker did not get to ``ready``: it could not be launched, crashed or failed its warm-up."""


class WorkerDied(RuntimeError):
    """The worker's pipe closed while it held an item (killed, OOM, crashed)."""


class _Worker:
    """One worker process and the parent's end of its pipe; ``not_started`` makes a placeholder."""

    def __init__(self, memory_limit_mb: int | None, warm_up: Callable[[], Any] | None, not_started: str | None = None):
        self.proc: subprocess.Popen | None = None
        self.conn = None
        self.ready = False
        self.start_error = not_started
        self.warm_up_s: float | None = None  # measured by the worker: its first real parse-and-verify
        self.held_back = not_started is not None  # a placeholder: no start was tried
        if self.held_back:
            return
        if not sys.executable:
            self.start_error = "sys.executable is empty: no Python interpreter to start"
            return
        self.conn, child = Pipe(duplex=True)
        # The worker resolves imports as this process does (a callee is pickled by reference).
        path = [str(entry) for entry in sys.path if isinstance(entry, (str, os.PathLike))]
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", BOOT, json.dumps(path), str(child.fileno()), str(memory_limit_mb or 0)],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
            self.conn.send(warm_up)
        except Exception as e:  # OSError (EAGAIN, ENOMEM, no interpreter), an unpicklable warm-up
            self.start_error = describe(e)
        finally:
            child.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _exit_status(self) -> str:
        try:
            code = self.proc.wait(timeout=1) if self.proc is not None else None
        except subprocess.TimeoutExpired:
            return "still running"
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def wait_ready(self, timeout_s: float) -> None:
        if self.ready:
            return
        if self.start_error is None:
            try:
                if not self.conn.poll(timeout_s):
                    self.start_error = f"not ready within {timeout_s:.0f} s"
                else:
                    kind, value, *timing = self.conn.recv()
                    if kind == "ready":
                        self.ready, self.warm_up_s = True, timing[0] if timing else None
                        return
                    self.start_error = str(value)
            except (EOFError, OSError):
                self.start_error = f"worker {self.pid} ended before it was ready ({self._exit_status()})"
        raise WorkerStartError(self.start_error)

    def call(self, fn: Callable, args: tuple, timeout_s: float) -> tuple[str, Any]:
        try:
            self.conn.send((fn, args))
            if not self.conn.poll(timeout_s):
                return "timeout", None
            return self.conn.recv()
        except (EOFError, OSError) as e:
            raise WorkerDied(f"worker {self.pid} died on the item ({self._exit_status()})") from e
        except Exception as e:  # fn or args could not be pickled
            return "error", describe(e)

    def kill(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.conn is not None:
            self.conn.close()


class _Overrun(BaseException):
    """Raised by SIGALRM in :func:`_call_with_alarm`; a BaseException so math-verify's
    ``except Exception`` handlers cannot swallow it."""


def _raise_overrun(signum, frame):
    raise _Overrun


def _call_with_alarm(fn: Callable, args: tuple, timeout_s: float) -> tuple[str, Any]:
    """``fn(*args)`` in this (main) thread, interrupted by SIGALRM after ``timeout_s``.

    Only pure-Python work is interruptible (a C-level bignum loop finishes first); the caller's
    own SIGALRM handler and timer are restored afterwards.
    """
    previous_handler = signal.signal(signal.SIGALRM, _raise_overrun)
    started = time.monotonic()
    previous_timer = signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        try:
            return "ok", fn(*args)
        except Exception as e:
            return "error", describe(e)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Overrun:
        return "timeout", None
    finally:
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_timer[0] > 0:
            remaining = max(previous_timer[0] - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, remaining, previous_timer[1])


class DeadlinePool:
    """``num_workers`` processes; ``run`` executes one call with a deadline, ``map`` many in parallel.

    Thread-safe: each call checks a worker out of an idle queue. Results are ``(status, value)``
    with status ``ok``, ``timeout`` (the deadline passed; the worker was killed) or ``error``
    (no value: ``value`` says why, e.g. the worker died twice or the callee raised twice).
    ``fn`` must be importable by module and name (it is pickled by reference). ``warm_up`` runs
    in each worker before its first item, outside every deadline, and must raise if it fails.
    """

    def __init__(self, num_workers: int = 2, memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB,
                 warm_up: Callable[[], Any] | None = None, retries: int = 1):
        self.num_workers = max(1, num_workers)
        self.retries = retries
        self._args = (memory_limit_mb, warm_up)
        self._warm_up = warm_up
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._start_failures = 0  # in a row
        self._no_starts_until = 0.0
        self._warm_here = False
        self.restarts = 0
        self._owner_pid = os.getpid()
        for _ in range(self.num_workers):
            worker = _Worker(*self._args)
            self._all.append(worker)
            self._idle.put(worker)

    def pids(self) -> list[int]:
        """Process ids of the current workers (started or starting)."""
        with self._lock:
            return [w.pid for w in self._all if w.pid is not None]

    def _new_worker(self) -> _Worker:
        wait = self._no_starts_until - time.monotonic()
        if wait > 0:
            why = f"{self._start_failures} starts failed in a row; next try in {wait:.0f} s"
            return _Worker(None, None, not_started=why)
        return _Worker(*self._args)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = self._new_worker()
        with self._lock:
            self._all = [w for w in self._all if w is not worker] + [fresh]
            self.restarts += 1
        return fresh

    def _ready(self, worker: _Worker) -> None:
        try:
            worker.wait_ready(_START_TIMEOUT_S)
        except WorkerStartError:
            if worker.held_back:
                raise
            with self._lock:
                self._start_failures += 1
                if self._start_failures >= _START_FAILURES_BEFORE_BACKOFF:
                    self._no_starts_until = time.monotonic() + _START_BACKOFF_S
            raise
        with self._lock:
            self._start_failures = 0

    def _run_on_workers(self, fn: Callable, args: tuple, timeout_s: float) -> tuple[str, Any]:
        """Up to ``1 + retries`` attempts, each on a fresh worker after the first."""
        worker = self._idle.get()
        failures: list[str] = []
        ran = False
        try:
            for attempt in range(1 + self.retries):
                if attempt:
                    worker = self._replace(worker)
                try:
                    self._ready(worker)
                except WorkerStartError as e:
                    failures.append(f"checker worker could not start: {e}")
                    continue
                ran = True
                try:
                    status, value = worker.call(fn, args, timeout_s)
                except WorkerDied as e:
                    failures.append(f"checker {e}")
                    continue
                if status == "error":
                    failures.append(f"check raised {value}")
                    continue
                if status == "timeout":
                    worker = self._replace(worker)
                return status, value
            worker = self._replace(worker)  # the last attempt's worker is dead or suspect
            # An item that a worker ran and lost may be what killed it: it never runs in the caller.
            return ("error" if ran else _UNSTARTED), "; ".join(failures)
        finally:
            self._idle.put(worker)

    def _run_here(self, fn: Callable, args: tuple, timeout_s: float, why: str) -> tuple[str, Any]:
        """The last resort when no worker starts: this process, if a deadline can bound it here."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            return "error", f"{why}; not run in this process: off the main thread no deadline can stop it"
        warn_once("in_process", f"siri_verl answer checker: {why}. Checking in this process instead, "
                                f"under a SIGALRM deadline (the main thread only; no memory limit).")
        if self._warm_up is not None and not self._warm_here:
            try:
                self._warm_up()
            except Exception as e:
                return "error", f"{why}; the warm-up in this process failed too: {describe(e)}"
            self._warm_here = True
        return _call_with_alarm(fn, args, timeout_s)

    def run(self, fn: Callable, args: tuple, timeout_s: float) -> tuple[str, Any]:
        status, value = self._run_on_workers(fn, args, timeout_s)
        if status == _UNSTARTED:
            return self._run_here(fn, args, timeout_s, value)
        return status, value

    def map(self, fn: Callable, args_list: Sequence[tuple], timeout_s: float) -> list[tuple[str, Any]]:
        if not args_list:
            return []
        with ThreadPoolExecutor(self.num_workers) as threads:
            outcomes = list(threads.map(lambda a: self._run_on_workers(fn, a, timeout_s), args_list))
        # Items no worker could start for fall back here, in the calling thread (see _run_here).
        return [self._run_here(fn, args, timeout_s, outcome[1]) if outcome[0] == _UNSTARTED else outcome
                for args, outcome in zip(args_list, outcomes)]

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for w in workers:
            try:
                if w.conn is not None:
                    w.conn.send(None)
            except Exception:
                pass
            w.kill()


_pools: dict[tuple[int, Callable[[], Any] | None], DeadlinePool] = {}
_pools_lock = threading.Lock()


def get_pool(num_workers: int | None = None, warm_up: Callable[[], Any] | None = None) -> DeadlinePool:
    """The process-wide pool of that size and warm-up (created on first use, closed at exit).

    Default size: ``SIRI_VERL_REWARD_WORKERS`` or 1. The caller brings the warm-up its work needs
    (the answer checker's: ``siri_verl.reward.checker.math_verify_pool``); this module knows no
    particular work.
    """
    n = num_workers or int(os.environ.get("SIRI_VERL_REWARD_WORKERS", "1"))
    memory_limit_mb = int(os.environ.get("SIRI_VERL_REWARD_MEMORY_MB", DEFAULT_MEMORY_LIMIT_MB))
    key = (n, warm_up)
    with _pools_lock:
        if key not in _pools or os.getpid() != _pools[key]._owner_pid:
            _pools[key] = DeadlinePool(n, memory_limit_mb=memory_limit_mb, warm_up=warm_up)
        return _pools[key]


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools.values()):
        if pool._owner_pid == os.getpid():
            pool.close()
