"""Counter-based randomness: every draw is a pure function of (seed, tick, row, stream).

No generator state is shared between rows or threads, so a world's result does not
depend on the thread count or on the order in which rows are processed. A kernel
derives one 64-bit key per row and tick with :func:`row_key` and then draws any number
of independent values from it with :func:`draw` / :func:`uniform`, one stream id each.
The mixer is SplitMix64's finaliser (Steele, Lea and Flood, 2014), applied once per
input word, which passes BigCrush when used as a counter-based generator.
"""

import numpy as np

from ._jit import kernel

__all__ = ["mix64", "row_key", "draw", "uniform", "below", "STREAMS"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_S32, _LO32 = np.uint64(32), np.uint64(0xFFFFFFFF)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

# Stream ids: one per independent decision, so that adding a draw never shifts another.
TURN, SEND, KIND, RECIPIENT, AMOUNT, TAG_TAMPER, TAG_BIT, HOTSPOT = 1, 2, 3, 4, 5, 6, 7, 8
TILE_PICK, TILE_BYTES, TILE_TAMPER, TILE_TAMPER_BYTE = 10, 11, 12, 13
KILL, SPAWN_X, SPAWN_Y, SPAWN_HEADING = 20, 21, 22, 23
STREAMS = dict(
    TURN=TURN, SEND=SEND, KIND=KIND, RECIPIENT=RECIPIENT, AMOUNT=AMOUNT,
    TAG_TAMPER=TAG_TAMPER, TAG_BIT=TAG_BIT, HOTSPOT=HOTSPOT, TILE_PICK=TILE_PICK, TILE_BYTES=TILE_BYTES,
    TILE_TAMPER=TILE_TAMPER, TILE_TAMPER_BYTE=TILE_TAMPER_BYTE, KILL=KILL,
    SPAWN_X=SPAWN_X, SPAWN_Y=SPAWN_Y, SPAWN_HEADING=SPAWN_HEADING,
)


@kernel
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche of one uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@kernel
def row_key(seed, tick, row):
    """The key of one row in one tick (all three are integers >= 0 or tick = -1)."""
    z = mix64(np.uint64(seed) + _GOLDEN)
    z = mix64(z ^ (np.uint64(tick + 1) * _GOLDEN))
    return mix64(z ^ (np.uint64(row) + _M1))


@kernel
def draw(key, stream):
    """A uniform uint64 of stream ``stream`` under ``key``."""
    return mix64(key ^ (np.uint64(stream) * _GOLDEN))


@kernel
def uniform(key, stream):
    """A float64 uniform on [0, 1) with 53 random bits."""
    return np.float64(draw(key, stream) >> _S11) * _TO_UNIT


@kernel
def below(u, m):
    """floor(u * m / 2**64) as an int64: a uint64 draw ``u`` mapped onto [0, m), for
    1 <= m < 2**32. Lemire's multiply-shift (2019), two multiplies where ``u % m`` is a
    64-bit division (~40 cycles on this CPU). Exact, so every value has probability
    within 2**-64 of 1/m for a uniform u, as with the modulo."""
    m = np.uint64(m)
    lo = ((u & _LO32) * m) >> _S32
    return np.int64(((u >> _S32) * m + lo) >> _S32)
