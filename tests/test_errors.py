"""One table from kernel status codes to typed errors (dod_sim.errors.from_status)."""

import pytest

from dod_sim import errors
from dod_sim.kernels import status


@pytest.mark.parametrize("code, cls, field, value", [
    (status.ARENA_EXHAUSTED, errors.ArenaExhausted, "arena_bytes", 64),
    (status.UNKNOWN_AGENT, errors.UnknownAgent, "agent", 64),
    (status.STALE_HANDLE, errors.StaleHandle, "epoch", 7),
    (status.BAD_ARGUMENT, errors.ConfigError, None, [64, 7, 1000]),
    (status.CAPACITY, errors.CapacityError, "capacity", 64),
    (99, errors.KernelError, None, 99),
])
def test_every_code_has_its_error(code, cls, field, value):
    err = errors.from_status(code, [64, 7, 1000], phase="act", tick=12)
    assert type(err) is cls and isinstance(err, errors.DodSimError)
    assert (err.field, err.value, err.phase, err.tick) == (field, value, "act", 12)
    if cls is not errors.ArenaExhausted:
        assert "in phase act at tick 12" in str(err)


def test_every_named_code_but_ok_is_covered():
    covered = {status.ARENA_EXHAUSTED, status.UNKNOWN_AGENT, status.STALE_HANDLE,
               status.BAD_ARGUMENT, status.CAPACITY}
    assert set(status.NAMES) - {status.OK} == covered


def test_a_world_raises_after_the_tick_from_the_table():
    from dod_sim import Config, World

    w = World(Config(agents=400, side=64, tile_updates=4, arena_bytes=640, seed=1))
    with pytest.raises(errors.ArenaExhausted) as info:
        w.run(50)
    err = info.value
    assert err.phase == "arena" and err.total == 640 and err.tick == w.tick - 1
    assert w._arrays["status"].tolist() == [0, 0, 0, 0]  # consumed
