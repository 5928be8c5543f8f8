"""The blocking pool: CPU-heavy jobs beside the tick, as Tokio's ``spawn_blocking``.

A :class:`BlockingPool` is ``threads`` Python threads fed by one bounded queue of
``queue`` jobs. A job is any callable; jobs made of nogil kernels (see
:mod:`dod_sim.kernels.tileworld.jobs`) run truly in parallel with the tick loop, which keeps
its own thread. A full queue makes :meth:`BlockingPool.submit` wait (``wait=True``,
optionally with a ``timeout``) or raise :class:`~dod_sim.errors.PoolFull` at once.
The pool keeps the high-water marks of jobs running and queued, so its bounds are
checked, not assumed.

Closing is race-free: a job is either queued before :meth:`BlockingPool.close` takes
effect, and then runs, or refused with :class:`~dod_sim.errors.PoolClosed` (``field``
``"blocking_pool"``), so no Future that ``submit`` returned is ever left pending.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future

from .errors import ConfigError, PoolClosed, PoolFull

__all__ = ["BlockingPool"]


class BlockingPool:
    """``threads`` worker threads and a job queue holding at most ``queue`` jobs.

    >>> with BlockingPool(threads=2, queue=4) as pool:
    ...     pool.submit(sum, [1, 2, 3]).result()
    6
    """

    def __init__(self, threads: int = 1, queue: int = 8):
        for name, v, hi in (("blocking_threads", threads, 256), ("blocking_queue", queue, 1 << 20)):
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
                raise ConfigError(f"{name}={v!r} must be an integer in [1, {hi}]",
                                  field=name, value=v, bound=(1, hi))
        self.threads = threads
        self.capacity = queue
        # One lock guards the queue, the closed flag and the counters, so that the
        # closed check and the enqueue in submit are one step as seen by close.
        self._jobs: deque = deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self.running = 0
        self.running_max = 0
        self.queued_max = 0
        self.submitted = 0
        self.completed = 0
        self.rejected = 0
        self._closed = False
        self._workers = [threading.Thread(target=self._work, name=f"dod_sim-blocking-{i}",
                                          daemon=True) for i in range(threads)]
        for t in self._workers:
            t.start()

    def submit(self, fn, *args, wait: bool = True, timeout: float | None = None, **kwargs) -> Future:
        """Queue ``fn(*args, **kwargs)``; returns its Future.

        A full queue blocks until there is room (``wait=True``; ``timeout`` seconds at
        most, then PoolFull) or raises PoolFull at once (``wait=False``). A closed or
        closing pool raises PoolClosed (a PoolFull) with ``field="blocking_pool"`` and
        ``value="closed"``, also to a submit that was waiting for room when close began.
        A returned Future always resolves: its job runs even if close follows at once.
        """
        deadline = None
        if wait and timeout is not None:
            if timeout < 0:
                raise ValueError(f"timeout must be a non-negative number, got {timeout!r}")
            deadline = time.monotonic() + timeout
        fut: Future = Future()
        with self._not_full:
            while not self._closed and len(self._jobs) >= self.capacity:
                left = None if deadline is None else deadline - time.monotonic()
                if not wait or (left is not None and left <= 0):
                    self.rejected += 1
                    raise PoolFull(f"the blocking pool's queue is full ({self.capacity} jobs "
                                   f"waiting)", field="blocking_queue", value=self.capacity + 1,
                                   bound=self.capacity)
                self._not_full.wait(left)
            if self._closed:
                raise PoolClosed("the blocking pool is closed: it takes no more jobs",
                                 field="blocking_pool", value="closed")
            self._jobs.append((fut, fn, args, kwargs))
            self.submitted += 1
            self.queued_max = max(self.queued_max, len(self._jobs))
            self._not_empty.notify()
        return fut

    def stats(self) -> dict:
        """Counts and high-water marks: running_max <= threads, queued_max <= queue."""
        with self._lock:
            return {"threads": self.threads, "queue": self.capacity, "running": self.running,
                    "running_max": self.running_max, "queued_now": len(self._jobs),
                    "queued_max": self.queued_max, "submitted": self.submitted,
                    "completed": self.completed, "rejected": self.rejected}

    def close(self, wait: bool = True) -> None:
        """Refuse new jobs, finish the queued ones, then stop the threads.

        With ``wait`` (the default) this returns once every job submitted before it has
        run, so every Future that submit returned is done; that holds for each caller,
        a repeated or concurrent close included. With ``wait=False`` it returns at once
        and the queued jobs still run. Called from inside a job, it cannot wait for that
        job's own thread, and returns with that job still running.
        """
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()
        if wait:
            me = threading.current_thread()
            for t in self._workers:
                if t is not me:
                    t.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _work(self):
        while True:
            with self._not_empty:
                while not self._jobs:
                    if self._closed:
                        return
                    self._not_empty.wait()
                fut, fn, args, kwargs = self._jobs.popleft()
                self._not_full.notify()
                try:
                    runnable = fut.set_running_or_notify_cancel()
                except RuntimeError:  # the caller settled the Future itself; the worker lives on
                    runnable = False
                if not runnable:
                    continue
                self.running += 1
                self.running_max = max(self.running_max, self.running)
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:  # handed to the caller through the Future
                fut.set_exception(e)
            else:
                fut.set_result(result)
            finally:
                with self._lock:
                    self.running -= 1
                    self.completed += 1
