"""JSON out, strict: what dod_sim prints or writes as JSON parses under any reader.

Python's ``json`` writes a float it cannot represent as the bare words ``NaN`` and
``Infinity``, which JSON does not have (a strict reader refuses the document). A figure
that could not be computed is written as ``null`` instead.
"""

from __future__ import annotations

import json
import math

__all__ = ["dumps"]


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj, **kw) -> str:
    """``json.dumps`` with every non-finite float written as null (``allow_nan`` off)."""
    return json.dumps(_finite(obj), allow_nan=False, **kw)
