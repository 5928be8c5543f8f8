"""The tileworld, the article's workload (``docs/workload.md``): its declared layout.

Engine code lives in ``dod_sim`` and ``dod_sim.kernels``; what belongs to this workload
only is gathered here, starting with its schema (:mod:`.schema`).
"""
