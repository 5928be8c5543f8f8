"""Start-up cost of a new process that builds a small world and ticks it once: with the
on-disk kernel cache filled (what every user pays) and with an empty one (a first run)."""

import os
import subprocess
import sys
import tempfile
import time

from . import skip_in_quick_mode

START_CODE = "from dod_sim import World, Config; World(Config(agents=100)).step()"


def _start(env=None) -> float:
    """Seconds of a fresh ``python -c START_CODE`` in this environment."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", START_CODE], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(f"{START_CODE!r} exited with {proc.returncode}:\n{proc.stderr}")
    return seconds


def _cold_setup(cache):
    """Setup of track_cold_compile_s alone (asv also looks for ``setup`` on the method):
    skip it in quick mode. It takes setup_cache's value as its argument; a setup with
    no arguments would be run before setup_cache as well."""
    skip_in_quick_mode()


class CompileTime:
    """A fresh interpreter importing dod_sim, building a 100-agent world and ticking it.

    The kernel cache is wherever Numba puts it in this environment (``NUMBA_CACHE_DIR``
    when set, else ``__pycache__`` beside the installed kernels).
    """

    timeout = 900     # the cold compile takes about a minute on 2 cores
    number = 1
    repeat = (3, 5, 15.0)
    warmup_time = 0
    rounds = 1

    def setup_cache(self):
        """Fill the kernel cache (compiling whatever is missing), so that
        time_warm_start measures loading from it."""
        return {"fill_s": _start()}

    setup_cache.timeout = 900

    def time_warm_start(self, cache):
        """Wall time of the fresh process with the kernel cache filled: interpreter,
        imports, loading every kernel from the cache, building and ticking the world."""
        _start()

    def track_cold_compile_s(self, cache):
        """Seconds of the same process with ``NUMBA_CACHE_DIR`` an empty directory, so
        every kernel compiles. Skipped in quick mode."""
        with tempfile.TemporaryDirectory(prefix="dod_sim-asv-cold-") as empty:
            return _start(dict(os.environ, NUMBA_CACHE_DIR=empty))

    track_cold_compile_s.setup = _cold_setup
    track_cold_compile_s.unit = "s"
