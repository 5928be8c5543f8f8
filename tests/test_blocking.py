"""dod_sim.blocking: a pool being closed refuses jobs with a typed error, and no Future
that submit returned is left pending once close() returns.

No test here can hang: every wait is bounded by SETTLE seconds, and a Future still
pending is an assertion failure, not a wait.
"""

import sys
import threading
import time
from concurrent.futures import Future

import pytest

from dod_sim import blocking
from dod_sim.blocking import BlockingPool
from dod_sim.errors import PoolClosed, PoolFull

SETTLE = 5.0  # seconds: the longest any thread or Future here is waited for


def _refused_as_closed(err) -> bool:
    return isinstance(err, PoolClosed) and err.field == "blocking_pool" and "closed" in str(err)


def test_submit_after_close_raises_pool_full_naming_the_pool():
    pool = BlockingPool(threads=1, queue=2)
    pool.close()
    for wait in (True, False):
        with pytest.raises(PoolFull, match="closed") as e:
            pool.submit(int, 1, wait=wait)
        assert e.value.field == "blocking_pool" and e.value.value == "closed"
    assert pool.stats()["submitted"] == 0


def test_submit_racing_close_is_refused_or_run(monkeypatch):
    pool = BlockingPool(threads=2, queue=4)
    closer = threading.Thread(target=pool.close)

    class ClosingFuture(Future):
        """Runs close() to completion while submit is past its first look at the pool's
        state but has not queued the job yet: the worst interleaving of the two."""

        def __init__(self):
            super().__init__()
            monkeypatch.setattr(blocking, "Future", Future)
            closer.start()
            # A thread and a bounded join, so that a submit building its Future under
            # the pool's lock delays close instead of deadlocking the test.
            closer.join(SETTLE)

    monkeypatch.setattr(blocking, "Future", ClosingFuture)
    try:
        fut = pool.submit(int, 7)
    except PoolFull as e:
        assert _refused_as_closed(e)
        fut = None
    assert closer.ident is not None, "submit no longer builds its Future where the test hooks in"
    closer.join(SETTLE)
    assert not closer.is_alive()
    if fut is not None:  # accepted before close took effect: then it must have run
        assert fut.done() and fut.result(0) == 7


def test_every_future_is_resolved_when_any_close_returns():
    gate = threading.Event()
    pool = BlockingPool(threads=1, queue=4)
    futs = [pool.submit(gate.wait, SETTLE) for _ in range(4)]
    pool.close(wait=False)  # queued jobs still run; the caller just does not wait
    opener = threading.Timer(0.3, gate.set)
    opener.start()
    try:
        pool.close()
        assert all(f.done() for f in futs)
        assert [f.result(0) for f in futs] == [True] * 4
    finally:
        gate.set()
        opener.cancel()
    assert pool.stats()["completed"] == 4


def test_close_under_a_stream_of_submits_leaves_nothing_pending():
    """Bounded stress: submitters loop until refused while close() runs; every Future
    they got is done when close returns, and every refusal is the typed one."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # many more thread switches, so many more interleavings
    try:
        for _ in range(100):
            pool = BlockingPool(threads=2, queue=3)
            futs, wrong, start = [], [], threading.Barrier(3, timeout=SETTLE)

            def submitter():
                start.wait()
                deadline = time.monotonic() + SETTLE
                while time.monotonic() < deadline:
                    try:
                        futs.append(pool.submit(time.sleep, 1e-5, timeout=SETTLE))
                    except BaseException as e:  # noqa: BLE001 - recorded, checked below
                        if not _refused_as_closed(e):
                            wrong.append(e)
                        return
                wrong.append("never refused")

            threads = [threading.Thread(target=submitter) for _ in range(2)]
            for t in threads:
                t.start()
            start.wait()
            pool.close()
            pending = [f for f in futs if not f.done()]
            for t in threads:
                t.join(SETTLE)
            assert not any(t.is_alive() for t in threads)
            pending += [f for f in futs if not f.done()]  # any appended after the look
            assert not pending and not wrong, (pending, wrong)
    finally:
        sys.setswitchinterval(old)


def test_close_with_a_submitter_waiting_for_room():
    """A submit blocked on a full queue when close() begins is either refused or run."""
    gate, started = threading.Event(), threading.Event()
    pool = BlockingPool(threads=1, queue=1)

    def first():
        started.set()
        return gate.wait(SETTLE)

    running = pool.submit(first)
    assert started.wait(SETTLE)
    queued = pool.submit(gate.wait, SETTLE)  # the queue is now full
    outcome = {}

    def waiter():
        try:
            outcome["fut"] = pool.submit(int, 3)
        except BaseException as e:  # noqa: BLE001 - checked below
            outcome["err"] = e

    w = threading.Thread(target=waiter)
    w.start()
    time.sleep(0.05)  # let it block on the full queue (either order is a pass)
    opener = threading.Timer(0.2, gate.set)
    opener.start()
    try:
        pool.close()
    finally:
        gate.set()
        opener.cancel()
    w.join(SETTLE)
    assert not w.is_alive()
    assert running.result(0) is True and queued.result(0) is True
    if "err" in outcome:
        assert _refused_as_closed(outcome["err"])
    else:
        assert outcome["fut"].done() and outcome["fut"].result(0) == 3


def test_close_finishes_queued_jobs_and_skips_cancelled_ones():
    gate = threading.Event()
    pool = BlockingPool(threads=1, queue=4)
    futs = [pool.submit(gate.wait, SETTLE) for _ in range(3)]
    assert futs[2].cancel()  # still queued: the single worker holds the first
    gate.set()
    pool.close()
    pool.close()  # idempotent
    assert [f.result(0) for f in futs[:2]] == [True, True] and futs[2].cancelled()
    st = pool.stats()
    assert st["completed"] == 2 and st["queued_now"] == 0 and st["running"] == 0


def test_a_closed_world_refuses_jobs_instead_of_starting_a_new_pool():
    from dod_sim import Config, World

    w = World(Config(agents=64, side=64, tile_updates=4, threads=1))
    assert w.submit(lambda: 7).result(timeout=10) == 7
    w.close()
    with pytest.raises(PoolClosed):
        w.submit(lambda: 8)
    assert w._pool is None
    w.step()  # ticking still works
