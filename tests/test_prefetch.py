"""The prefetch hint compiles for the arrays the tick uses and never changes a value."""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from dod_sim.kernels.prefetch import prefetch


@njit
def _sum_with_prefetch(a, ahead):
    flat = a.reshape(-1)
    s = 0
    for i in range(flat.size):
        prefetch(a, i + ahead)  # past the end on the last rows: a hint never faults
        s += flat[i]
    return s


@pytest.mark.parametrize("shape, dtype", [((1000,), np.int64), ((64, 64), np.uint8),
                                          ((7, 64), np.uint8)])
def test_prefetch_is_only_a_hint(shape, dtype):
    a = np.arange(np.prod(shape), dtype=dtype).reshape(shape)
    before = a.copy()
    assert _sum_with_prefetch(a, 8) == a.sum()
    assert np.array_equal(a, before)


def test_prefetch_refuses_non_contiguous_arrays():
    @njit
    def strided(a):
        prefetch(a[:, ::2], 0)

    with pytest.raises(TypingError):
        strided(np.zeros((4, 4)))
