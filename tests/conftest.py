"""Shared fixtures. Kernels compile once per test run (or load from NUMBA_CACHE_DIR)."""

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# The thread probe's verdicts go to a file of this test run (subprocesses inherit it),
# never to the developer's cache: a test sees only verdicts this run measured.
os.environ["DOD_SIM_PROBE_CACHE"] = os.path.join(tempfile.mkdtemp(prefix="dod_sim_probe_"),
                                                 "verdicts.json")

settings.register_profile("dod_sim", deadline=None, max_examples=60)
settings.load_profile("dod_sim")

# Standard test vectors (RFC 7693, RFC 4231, the BLAKE2 KAT), kept with the tests:
# see tests/vectors/README.md.
VECTORS = Path(__file__).resolve().parent / "vectors"


def load_vector(name):
    path = VECTORS / name
    if not path.exists():
        raise FileNotFoundError(f"standard test vectors not found at {path}")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def small_world_config():
    from dod_sim import Config

    return Config(agents=400, side=256, tile_updates=16, seed=7)
