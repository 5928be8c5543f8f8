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


# The statistical comparisons with Mesa (marker mesa_statistics) run a few seeds in CI;
# DOD_SIM_MESA_FULL=1 pytest -m mesa_statistics runs four times as many.
MESA_FULL = 4 if os.environ.get("DOD_SIM_MESA_FULL") else 1


def mesa_seeds(n: int) -> int:
    """The seeds a statistical comparison with Mesa runs: ``n``, or 4n in the full run."""
    return n * MESA_FULL


def browser_or_skip() -> str:
    """A Chromium or Chrome binary for the browser tests; without one they skip, except
    where ``DOD_SIM_REQUIRE_BROWSER`` is set (CI installs one), where they fail."""
    from dod_sim.bench_explore import browser

    path = browser()
    if path is None:
        if os.environ.get("DOD_SIM_REQUIRE_BROWSER"):
            pytest.fail("no Chromium or Chrome, and DOD_SIM_REQUIRE_BROWSER is set")
        pytest.skip("no Chromium or Chrome (Debian: apt-get install chromium)")
    return path


def load_vector(name):
    path = VECTORS / name
    if not path.exists():
        raise FileNotFoundError(f"standard test vectors not found at {path}")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def small_world_config():
    from dod_sim import Config

    return Config(agents=400, side=256, tile_updates=16, seed=7)
