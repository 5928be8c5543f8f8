"""The one place that owns Numba's options for every kernel.

Every kernel in ``dod_sim.kernels`` is compiled ``nopython``, releases the GIL and is
cached on disk, so a warm start loads machine code instead of compiling it. Parallel
kernels say so explicitly (``kernel(parallel=True)``) next to the measurement that
justified it.
"""

from numba import njit

__all__ = ["kernel", "inline"]


def kernel(fn=None, *, parallel=False, **options):
    """Compile ``fn`` as a dod_sim kernel: ``njit(nogil=True, cache=True)``.

    Usable bare (``@kernel``) or with options (``@kernel(parallel=True)``).
    """
    opts = dict(nogil=True, cache=True, parallel=parallel)
    opts.update(options)
    if fn is None:
        return lambda f: njit(**opts)(f)
    return njit(**opts)(fn)


def inline(fn):
    """A small helper compiled into its callers (``inline="always"`` at the Numba IR
    level), used for the hash round functions whose call overhead would dominate."""
    return njit(nogil=True, cache=True, inline="always")(fn)
