"""Constant-time comparison of tags."""

from ._jit import inline

__all__ = ["ct_equal"]


@inline
def ct_equal(a, a_start, b, b_start, n):
    """True when ``a[a_start:a_start+n] == b[b_start:b_start+n]`` (uint8 arrays).

    Every byte is read whatever the first difference, so the time taken does not tell
    an attacker how long a prefix of a forged tag was right.
    """
    diff = 0
    for i in range(n):
        diff |= a[a_start + i] ^ b[b_start + i]
    return diff == 0
