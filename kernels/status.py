"""Status codes returned by kernels. 0 is success; a kernel never raises mid-tick.

A full mailbox or a full message pool is not an error: the message stays with its
sender (backpressure) and is counted as deferred.

A kernel that meets an error records it in its status array and finishes its pass so
that the state stays consistent; ``dod_sim`` turns the code into an exception from
``dod_sim.errors`` afterwards.
"""

OK = 0
ARENA_EXHAUSTED = 1
STALE_HANDLE = 2
UNKNOWN_AGENT = 3
BAD_ARGUMENT = 4
CAPACITY = 5  # births refused: no free row in a table of fixed capacity

NAMES = {
    OK: "OK",
    ARENA_EXHAUSTED: "ARENA_EXHAUSTED",
    STALE_HANDLE: "STALE_HANDLE",
    UNKNOWN_AGENT: "UNKNOWN_AGENT",
    BAD_ARGUMENT: "BAD_ARGUMENT",
    CAPACITY: "CAPACITY",
}
