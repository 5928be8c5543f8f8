"""The world's arrays in one Numba structref, made once per world.

Every call from Python into a compiled function boxes each array argument, and Numba
counts each as an allocation; a tick of forty separate arrays would allocate forty
times. A structref holding them is passed as one object, with no allocation, and the
phase kernels in :mod:`.phases` read their columns from it. Python keeps its own
references to the same numpy buffers (``dod_sim.World.columns``), so nothing is copied.

The fields, their order, dtypes and dimensions come from the tileworld's one declared
layout, :data:`dod_sim.tileworld.schema.TILEWORLD`. Scalars live in small arrays,
indexed by the constants of :mod:`.indices`, so that kernels can update them in place.
"""

import numpy as np
from numba import types
from numba.experimental import structref
from numba.np.numpy_support import from_dtype

from ...tileworld.schema import TILEWORLD
from .._jit import kernel
from .indices import COUNTER_NAMES, GAUGE_NAMES, PF, PI, C, G

__all__ = ["WorldStateType", "WorldState", "state_type", "FIELDS", "PI", "PF", "C", "G",
           "COUNTER_NAMES", "GAUGE_NAMES", "make"]


# (name, dtype, ndim) of every array, in the order kernels receive them.
FIELDS = tuple((a.name, a.dtype, len(a.shape)) for a in TILEWORLD.fields())


@structref.register
class WorldStateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class WorldState(structref.StructRefProxy):
    """Opaque handle to a world's arrays for the phase kernels. Build with :func:`make`."""


structref.define_proxy(WorldState, WorldStateType, [name for name, _, _ in FIELDS])


def state_type():
    """The Numba type of every WorldState (what ``numba.typeof(make(arrays))`` gives),
    built from FIELDS without arrays: kernels can be compiled for it ahead of a world."""
    return WorldStateType([(name, types.Array(from_dtype(np.dtype(dtype)), ndim, "C"))
                           for name, dtype, ndim in FIELDS])


def make(arrays):
    """A WorldState over ``arrays`` (a dict holding every name of FIELDS, right dtypes)."""
    for name, dtype, ndim in FIELDS:
        a = arrays[name]
        if a.dtype.name != dtype or a.ndim != ndim or not a.flags.c_contiguous:
            raise TypeError(f"world array {name!r} must be C-contiguous {dtype}[{ndim}d], "
                            f"got {a.dtype}[{a.ndim}d]")
    return _new(tuple(arrays[name] for name, _, _ in FIELDS))


@kernel
def _new(arrays):
    # Built inside a cached kernel: the proxy's own Python constructor compiles a
    # constructor for these 60 fields in every process (1.6 s measured), this loads.
    return WorldState(*arrays)
