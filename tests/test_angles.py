"""The inline steering trigonometry agrees with libm to the last float32 bit or one ulp."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from dod_sim.kernels.angles import SERIES_MAX, atan2, sincos


@njit
def _sincos_all(x, c, s):
    for i in range(x.shape[0]):
        c[i], s[i] = sincos(x[i])


@njit
def _atan2_all(y, x, out):
    for i in range(y.shape[0]):
        out[i] = atan2(y[i], x[i])


def _ulps(got, want):
    """Distance in float32 ulps between got and the float64 reference want."""
    want32 = np.float32(want)
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want32)).astype(np.float64)


def test_sincos_matches_libm_on_and_off_the_series():
    x = np.concatenate([np.linspace(-SERIES_MAX, SERIES_MAX, 20001),
                        np.array([0.0, -0.0, 1e-30, SERIES_MAX * 1.01, 1.0, -3.0, 3.14159])])
    x = x.astype(np.float32)
    c = np.empty_like(x)
    s = np.empty_like(x)
    _sincos_all(x, c, s)
    x64 = x.astype(np.float64)
    assert _ulps(c, np.cos(x64)).max() <= 1.0
    assert _ulps(s[x != 0], np.sin(x64[x != 0])).max() <= 1.0
    assert s[x == 0].tolist() == [0.0] * int((x == 0).sum())


@given(st.floats(-SERIES_MAX, SERIES_MAX, width=32))
def test_sincos_is_one_ulp_from_exact(v):
    x = np.array([v], np.float32)
    c = np.empty(1, np.float32)
    s = np.empty(1, np.float32)
    _sincos_all(x, c, s)
    assert _ulps(c, math.cos(float(x[0])))[0] <= 1.0
    if v != 0:
        assert _ulps(s, math.sin(float(x[0])))[0] <= 1.0


@given(st.floats(-1e3, 1e3, width=32), st.floats(-1e3, 1e3, width=32))
def test_atan2_is_one_ulp_from_exact_in_every_quadrant(y, x):
    ys = np.array([y], np.float32)
    xs = np.array([x], np.float32)
    out = np.empty(1, np.float32)
    _atan2_all(ys, xs, out)
    want = math.atan2(float(ys[0]), float(xs[0]))
    if want == 0.0:
        assert out[0] == 0.0
    else:
        assert _ulps(out, want)[0] <= 1.0


def test_atan2_series_region_and_its_edge():
    # the series serves |y| <= SERIES_MAX * x, x > 0; libm the rest (signs of zero too)
    t = np.linspace(-SERIES_MAX, SERIES_MAX, 10001)
    x = np.full(t.shape, 7.0, np.float32)
    y = (t * 7.0).astype(np.float32)
    out = np.empty_like(x)
    _atan2_all(y, x, out)
    want = np.arctan2(y.astype(np.float64), x.astype(np.float64))
    nz = want != 0
    assert _ulps(out[nz], want[nz]).max() <= 1.0
    edge = np.array([0.0, -0.0, 1.0, -1.0], np.float32)
    out = np.empty(4, np.float32)
    _atan2_all(edge, np.array([-1.0, -1.0, 0.0, 0.0], np.float32), out)
    assert out.tolist() == [np.float32(math.pi), np.float32(-math.pi),
                            np.float32(math.pi / 2), np.float32(-math.pi / 2)]
