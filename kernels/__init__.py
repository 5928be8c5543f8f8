"""Numba kernels of dod_sim, one module per concern.

Arrays and scalars in, arrays and integer status codes out; no Python objects, no I/O.
Installed as ``dod_sim.kernels``. Users call the wrappers in ``dod_sim``, which validate
their input and turn status codes into ``dod_sim.errors`` exceptions.
"""

import hashlib as _hashlib
import os as _os
import tempfile as _tempfile

_FINGERPRINT = ".dod_sim_kernel_sources"


def drop_stale_cache(src_dir: str, cache_dir: str, depends=()) -> int:
    """Remove Numba's cache files in ``cache_dir`` when any ``*.py`` of ``src_dir`` or
    of the directories ``depends`` changed since they were written; returns how many
    were removed.

    Numba checks only the file that defines a function: a phase kernel in phases.py
    that inlines code from agents.py keeps the old machine code after agents.py is
    edited, and a test then runs code that is no longer in the tree. A fingerprint of
    every kernel source, kept beside the cache, makes any edit drop the whole kernel
    cache instead (installed copies never change; this is for working trees). A cache
    that cannot be written is left alone.
    """
    h = _hashlib.sha256()
    for d in (src_dir, *depends):
        for name in sorted(f for f in _os.listdir(d) if f.endswith(".py")):
            h.update(name.encode())
            with open(_os.path.join(d, name), "rb") as fh:
                h.update(fh.read())
    digest = h.hexdigest()
    stamp = _os.path.join(cache_dir, _FINGERPRINT)
    try:
        with open(stamp) as fh:
            if fh.read() == digest:
                return 0
    except OSError:
        pass
    removed = 0
    try:
        _os.makedirs(cache_dir, exist_ok=True)
        for name in _os.listdir(cache_dir):
            if name.endswith((".nbi", ".nbc")):
                _os.remove(_os.path.join(cache_dir, name))
                removed += 1
        # a temporary file renamed over the stamp: never half-written, and a symlink
        # planted at the stamp's name is replaced, not written through
        fd, tmp = _tempfile.mkstemp(prefix=_FINGERPRINT + ".", suffix=".tmp", dir=cache_dir)
        try:
            with _os.fdopen(fd, "w") as fh:
                fh.write(digest)
            _os.replace(tmp, stamp)
        except OSError:
            _os.unlink(tmp)
            raise
    except OSError:
        pass
    return removed


def cache_dir_of(src_dir: str) -> str:
    """Where Numba caches the functions of ``src_dir``: its ``__pycache__``, or the
    directory Numba derives under ``NUMBA_CACHE_DIR`` when that is set."""
    from numba.core import caching, config

    if not config.CACHE_DIR:
        return _os.path.join(src_dir, "__pycache__")
    sub = caching.UserProvidedCacheLocator.get_suitable_cache_subpath(
        _os.path.join(src_dir, "__init__.py"))
    return _os.path.join(config.CACHE_DIR, sub)


KERNELS_DIR = _os.path.dirname(_os.path.abspath(__file__))
drop_stale_cache(KERNELS_DIR, cache_dir_of(KERNELS_DIR))
