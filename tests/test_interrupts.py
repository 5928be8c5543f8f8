"""Ctrl-C during a run takes effect at a tick (tileworld) or batch (models) boundary:
the world is whole, continuing it equals a run that was never interrupted, and Python's
handler is back afterwards."""

import os
import signal
import threading

import pytest

from dod_sim import Config, World
from dod_sim.models import wealth


@pytest.fixture(autouse=True)
def _default_sigint():
    """Python's default SIGINT handler, which these tests assume: a process started with
    SIGINT ignored (a background job of a non-interactive shell) keeps it ignored, and
    the runs here would then go on to their end."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _interrupt_after(seconds):
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.slow
def test_a_model_run_stops_whole_at_a_batch_end():
    w = wealth.world(20_000, seed=3, threads=1)
    w.run(2)
    timer = _interrupt_after(0.3)
    with pytest.raises(KeyboardInterrupt):
        w.run(100_000)
    timer.join()
    done = w.tick
    assert 2 < done < 100_002 and w.last_report.ticks == done - 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    w.run(10)
    ref = wealth.world(20_000, seed=3, threads=1)
    ref.run(done + 10)
    assert ref.state_digest() == w.state_digest()


@pytest.mark.slow
def test_a_tileworld_run_stops_whole_at_a_tick_end():
    cfg = Config(agents=1000, side=128, tile_updates=8, seed=2, threads=1)
    w = World(cfg)
    timer = _interrupt_after(0.3)
    with pytest.raises(KeyboardInterrupt):
        w.run(1_000_000)
    timer.join()
    done = w.tick
    assert 0 < done < 1_000_000 and w.last_report.ticks == done
    assert w._seq % 2 == 0  # the seqlock is even: no tick in progress
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    w.run(5)
    ref = World(cfg)
    ref.run(done + 5)
    assert ref.state_digest() == w.state_digest()
