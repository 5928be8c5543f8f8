"""Numba kernels of dod_sim, one module per concern.

Arrays and scalars in, arrays and integer status codes out; no Python objects, no I/O.
Installed as ``dod_sim.kernels``. Users call the wrappers in ``dod_sim``, which validate
their input and turn status codes into ``dod_sim.errors`` exceptions.
"""
