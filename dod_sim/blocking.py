"""The blocking pool: CPU-heavy jobs beside the tick, as Tokio's ``spawn_blocking``.

A :class:`BlockingPool` is ``threads`` Python threads fed by one bounded queue of
``queue`` jobs. A job is any callable; jobs made of nogil kernels (see
:mod:`dod_sim.kernels.jobs`) run truly in parallel with the tick loop, which keeps
its own thread. A full queue makes :meth:`BlockingPool.submit` wait (``wait=True``,
optionally with a ``timeout``) or raise :class:`~dod_sim.errors.PoolFull` at once.
The pool keeps the high-water marks of jobs running and queued, so its bounds are
checked, not assumed.
"""

from __future__ import annotations

import threading
from queue import Full, Queue
from concurrent.futures import Future

from .errors import ConfigError, PoolFull

__all__ = ["BlockingPool"]

_STOP = object()


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
        self._jobs = Queue(maxsize=queue)
        self._lock = threading.Lock()
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
        most, then PoolFull) or raises PoolFull at once (``wait=False``).
        """
        if self._closed:
            raise RuntimeError("the blocking pool is closed")
        fut: Future = Future()
        try:
            self._jobs.put((fut, fn, args, kwargs), block=wait, timeout=timeout)
        except Full:
            with self._lock:
                self.rejected += 1
            raise PoolFull(f"the blocking pool's queue is full ({self.capacity} jobs waiting)",
                           field="blocking_queue", value=self.capacity + 1,
                           bound=self.capacity) from None
        with self._lock:
            self.submitted += 1
            self.queued_max = max(self.queued_max, self._jobs.qsize())
        return fut

    def stats(self) -> dict:
        """Counts and high-water marks: running_max <= threads, queued_max <= queue."""
        with self._lock:
            return {"threads": self.threads, "queue": self.capacity, "running": self.running,
                    "running_max": self.running_max, "queued_now": self._jobs.qsize(),
                    "queued_max": self.queued_max, "submitted": self.submitted,
                    "completed": self.completed, "rejected": self.rejected}

    def close(self, wait: bool = True) -> None:
        """Finish the queued jobs, then stop the threads (joined when ``wait``)."""
        if self._closed:
            return
        self._closed = True
        for _ in self._workers:
            self._jobs.put((None, _STOP, (), {}))
        if wait:
            for t in self._workers:
                t.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _work(self):
        while True:
            fut, fn, args, kwargs = self._jobs.get()
            if fn is _STOP:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            with self._lock:
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

