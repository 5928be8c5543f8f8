"""The counter-based generator's helpers (dod_sim.kernels.rng)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from dod_sim.kernels.rng import below, draw


@njit
def _below(u, m):
    return below(u, m)


@given(u=st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 2**63, 2**64 - 1])),
       m=st.integers(1, 2**32 - 1))
def test_below_is_the_high_word_of_u_times_m(u, m):
    got = _below(np.uint64(u), m)
    assert got == (u * m) >> 64 and 0 <= got < m


@njit
def _histogram(m, draws, out):
    for k in range(draws):
        out[below(draw(np.uint64(3), k), m)] += 1


def test_below_spreads_draws_evenly():
    m, draws = 7, 70_000
    counts = np.zeros(m, np.int64)
    _histogram(m, draws, counts)
    expected = draws / m
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 30  # 6 degrees of freedom: P(chi2 > 30) ~ 4e-5 for a uniform draw
