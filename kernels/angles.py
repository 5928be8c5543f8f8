"""Small-angle trigonometry for steering, inline, without a libm call.

An agent turns by at most ``2 * turn_max`` (0.2 rad by default) a tick and steers by the
angle between its velocity and its target, clamped to ``turn_max``. libm's ``sincosf``
and ``atan2f`` are calls: every live value of the row loop around them is spilled to
the stack and reloaded, and perf put them with their spills at a sixth of the act pass.
For small angles a short Taylor series, evaluated in float64 and rounded once to
float32, is as accurate as libm (below half a float32 ulp of error before rounding) and
inlines into the loop; larger angles fall back to libm.

Being plain arithmetic, the series also gives the same bits on every machine, where
libm's last bit may differ between C libraries.
"""

import math

import numpy as np

from ._jit import inline

__all__ = ["sincos", "atan2", "SERIES_MAX"]

# |x| up to which the series are used. At 0.5 the first omitted term of sin (x^11/11!)
# is 1.2e-11 and of cos (x^12/12!) 5.1e-13; for atan2 the ratio t = y/x is kept to
# |t| <= 0.5 and its argument halved first (see atan2), so the omitted term is < 1e-11.
SERIES_MAX = 0.5


@inline
def sincos(x):
    """(cos x, sin x) as float32 for a float32 angle x in radians."""
    if abs(x) > SERIES_MAX:
        return np.float32(math.cos(x)), np.float32(math.sin(x))
    a = np.float64(x)
    a2 = a * a
    s = a * (1.0 - a2 / 6.0 * (1.0 - a2 / 20.0 * (1.0 - a2 / 42.0 * (1.0 - a2 / 72.0))))
    c = 1.0 - a2 / 2.0 * (1.0 - a2 / 12.0 * (1.0 - a2 / 30.0 * (1.0 - a2 / 56.0 * (1.0 - a2 / 90.0))))
    return np.float32(c), np.float32(s)


@inline
def atan2(y, x):
    """atan2(y, x) as float32 for float32 y, x (the angle of the vector (x, y))."""
    if x > 0 and abs(y) <= SERIES_MAX * x:
        t = np.float64(y) / np.float64(x)
        # atan t = 2 atan(h), h = t / (1 + sqrt(1 + t^2)): |h| <= 0.243 for |t| <= 0.5,
        # where the series to h^15 leaves an error below 1e-11
        h = t / (1.0 + math.sqrt(1.0 + t * t))
        h2 = h * h
        p = 1.0 / 15.0
        p = 1.0 / 13.0 - h2 * p
        p = 1.0 / 11.0 - h2 * p
        p = 1.0 / 9.0 - h2 * p
        p = 1.0 / 7.0 - h2 * p
        p = 1.0 / 5.0 - h2 * p
        p = 1.0 / 3.0 - h2 * p
        p = 1.0 - h2 * p
        return np.float32(2.0 * h * p)
    return np.float32(math.atan2(y, x))
