"""The epoch arena: no overlapping live ranges, stale handles detected, exhaustion typed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dod_sim import ArenaExhausted, ConfigError, StaleHandle
from dod_sim.arena import Arena


@given(sizes=st.lists(st.integers(0, 300), max_size=40), total=st.integers(0, 4000))
def test_live_ranges_never_overlap_or_overrun(sizes, total):
    a = Arena(total)
    live = []
    for n in sizes:
        try:
            live.append(a.alloc(n))
        except ArenaExhausted as e:
            assert e.requested == n and e.used == a.used and e.total == total
            assert a.used + n > total
    ends = sorted((h.offset, h.offset + h.length) for h in live)
    for (s0, e0), (s1, _) in zip(ends, ends[1:]):
        assert e0 <= s1
    assert all(e <= total for _, e in ends)
    assert a.used == sum(h.length for h in live)


def test_writes_survive_within_the_epoch_and_go_stale_after():
    a = Arena(256)
    h1, h2 = a.alloc(64), a.alloc(64)
    a.view(h1)[:] = 1
    a.view(h2)[:] = 2
    assert (a.view(h1) == 1).all() and (a.view(h2) == 2).all()
    assert a.rotate_epoch() == 1 and a.used == 0 and a.high_water == 128
    for h in (h1, h2):
        with pytest.raises(StaleHandle) as e:
            a.view(h)
        assert e.value.value == 0 and e.value.bound == 1
    h3 = a.alloc(64)
    assert h3.offset == 0 and h3.epoch == 1


def test_exhaustion_hands_out_nothing():
    a = Arena(100)
    a.alloc(60)
    with pytest.raises(ArenaExhausted) as e:
        a.alloc(41)
    assert (e.value.requested, e.value.used, e.value.total) == (41, 60, 100)
    assert "41" in str(e.value) and "100" in str(e.value)
    assert a.used == 60


@pytest.mark.parametrize("bad", [-1, 1.5, "8", True])
def test_bad_sizes(bad):
    with pytest.raises(ConfigError):
        Arena(bad)
    with pytest.raises(ConfigError):
        Arena(10).alloc(bad)
