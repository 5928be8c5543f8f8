"""Status codes returned by kernels. 0 is success; a kernel never raises mid-tick.

A kernel that meets an error records it in its status array and finishes its pass so
that the state stays consistent; ``dod_sim`` turns the code into an exception from
``dod_sim.errors`` afterwards.
"""

OK = 0
ARENA_EXHAUSTED = 1
STALE_HANDLE = 2
UNKNOWN_AGENT = 3
POOL_FULL = 4
BAD_ARGUMENT = 5

NAMES = {
    OK: "OK",
    ARENA_EXHAUSTED: "ARENA_EXHAUSTED",
    STALE_HANDLE: "STALE_HANDLE",
    UNKNOWN_AGENT: "UNKNOWN_AGENT",
    POOL_FULL: "POOL_FULL",
    BAD_ARGUMENT: "BAD_ARGUMENT",
}
