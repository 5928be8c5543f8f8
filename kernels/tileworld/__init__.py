"""The tileworld's kernels: its agents' turn (:mod:`.agents`), the tile map (:mod:`.tiles`),
the map cache in the epoch arena (:mod:`.cache`), the blocking pool's jobs (:mod:`.jobs`),
the world's structref (:mod:`.state`, :mod:`.indices`) and the phases of its tick
(:mod:`.phases`). The engine's own kernels are one folder up; these are the workload's."""

from .. import KERNELS_DIR as _KERNELS_DIR
from .. import cache_dir_of as _cache_dir_of
from .. import drop_stale_cache as _drop_stale_cache

_HERE = __path__[0]
# these kernels inline the engine's (hashing, mailboxes, the arena): see drop_stale_cache
_drop_stale_cache(_HERE, _cache_dir_of(_HERE), depends=(_KERNELS_DIR,))
