"""The tileworld's state after 600 ticks equals the state recorded at commit 53c2bd2.

``golden/record.py`` wrote the arrays of four configurations (plain, chaos, hot spots,
tiny mailboxes) before the tileworld moved onto the one engine; any later change that
alters what a tick computes fails here, array by array, on 1 and 2 threads. The keys were
derived from the seed then (``deterministic_keys=True`` now); array ``keys`` came later.
"""

import numpy as np
import pytest

from dod_sim import Config, World

from golden.record import GOLDEN, PATH, TICKS


@pytest.fixture(scope="module")
def recorded():
    with np.load(PATH) as data:
        return {k: data[k] for k in data.files}


def _state(world) -> dict:
    """{name: array} of everything a snapshot holds, as record.py stored it."""
    return {name: np.ascontiguousarray(a) for name, _, a in world.schema.saved(world._arrays)}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(GOLDEN))
def test_state_after_600_ticks_equals_53c2bd2(recorded, name, threads):
    world = World(Config(**GOLDEN[name], threads=threads, deterministic_keys=True))
    world.run(TICKS)
    got = _state(world)
    want = {k.split("/", 1)[1]: v for k, v in recorded.items() if k.startswith(name + "/")}
    assert sorted(set(got) - {"keys"}) == sorted(want)
    for key, expected in want.items():
        actual = got[key]
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, key
        if not np.array_equal(actual, expected):
            diff = np.argwhere(actual != expected)
            pytest.fail(f"{name}: array {key!r} differs from 53c2bd2 at {len(diff)} "
                        f"elements, first at index {tuple(diff[0])}")
