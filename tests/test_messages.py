"""Messages in the model API (dod_sim.messages): the engine's bounded mailboxes and
delivery, checked against a plain Python model of the same rules."""

from collections import defaultdict

import numpy as np
import pytest
from numba import njit

from dod_sim.errors import ConfigError, UnknownAgent
from dod_sim.messages import (
    TOTALS, Deliver, Mailboxes, body_u32, current_pool, inbox, mailboxes, post, sender_of,
)
from dod_sim.model import Column, Kernel, Model, ModelWorld, Rows

BOUND = 3


@njit
def _recipient(i, tick, n):
    # a third of the agents always write to agent 0 (a hot spot beyond its bound)
    return 0 if i % 3 == 0 and i != 0 else (i + 1 + tick) % n


@njit
def take(i, key, p, value, mail):
    start, count = inbox(mail, i)
    pool = current_pool(mail)
    got = 0
    for k in range(start, start + count):
        got += body_u32(pool[k])
    return value[i] + got


@njit
def give(key, n, p, value, mail):
    tick = mail.meta[1]
    for i in range(n):
        if value[i] > 0 and post(mail, i, _recipient(i, tick, n), 1, value[i]):
            value[i] = 0


MODEL = Model(
    "tokens",
    columns=[Column("value", np.int64, 1)],
    resources=[Mailboxes("mail", bound=BOUND)],
    systems=[Deliver("mail"), Rows("take", take, reads=("value", "mail"), writes=("value",)),
             Kernel("give", give, reads=("value", "mail"))],
)


def _reference(n, ticks):
    """The same rules in plain Python: per tick, deliver (empty mailboxes, admit held
    messages per recipient by (first tick, sender) up to BOUND), take, give."""
    value = [1] * n
    held = {}  # sender -> (recipient, body, first tick)
    boxes = defaultdict(list)
    deliveries = 0
    for tick in range(ticks):
        boxes = defaultdict(list)
        for s, (r, body, first) in sorted(held.items(), key=lambda kv: (kv[1][2], kv[0])):
            if len(boxes[r]) < BOUND:
                boxes[r].append((s, body))
                del held[s]
                deliveries += 1
        left = len(held)  # still held right after this delivery
        for r, msgs in boxes.items():
            value[r] += sum(b for _, b in msgs)
        # posting happens after this tick's delivery: the mailboxes' clock is tick + 1
        for i in range(n):
            if value[i] > 0 and i not in held:
                held[i] = (_recipient(i, tick + 1, n), value[i], tick + 1)
                value[i] = 0
    return value, held, boxes, deliveries, left


@pytest.mark.parametrize("threads", [1, 2])
def test_messages_follow_the_python_model_exactly(threads):
    n, ticks = 60, 25
    w = ModelWorld(MODEL, n, seed=3, threads=threads)
    w.run(ticks, stats=False)
    value, held, boxes, deliveries, left = _reference(n, ticks)
    mail = w.resources["mail"]
    assert w.columns["value"].tolist() == value
    assert {int(s) for s in np.flatnonzero(mail.out_pending)} == set(held)
    for s, (r, body, first) in held.items():
        assert mail.out_to[s] == r and mail.out_tick[s] == first
    pool = mail.pools[mail.meta[0]]
    for r in range(n):  # each mailbox: the senders, in delivery order
        start, count = int(mail.mb_start[r]), int(mail.mb_count[r])
        got = [int(sender_of(pool[k])) for k in range(start, start + count)]
        assert got == [s for s, _ in boxes.get(r, [])]
        assert count <= BOUND
    totals = dict(zip(TOTALS, mail.totals.tolist()))
    assert totals["delivered"] == deliveries and totals["held"] == left
    assert totals["retries"] > 0  # the hot spot held messages back
    # nothing lost: every token is in a value or held by its sender
    assert sum(value) + sum(b for _, b, _ in held.values()) == n


def test_same_digest_on_any_thread_count():
    digests = set()
    for th in (1, 2):
        w = ModelWorld(MODEL, 5000, seed=1, threads=th)
        w.run(12, stats=False)
        digests.add(w.state_digest())
    assert len(digests) == 1


@njit
def _post(m, sender, recipient):
    return post(m, sender, recipient, 1, 7)


def test_post_refuses_a_second_message_and_counts_rows_that_do_not_exist():
    m = mailboxes(4, bound=2)
    assert _post(m, 0, 3) and not _post(m, 0, 2)  # held until delivered: backpressure
    assert m.out_to[0] == 3 and m.out_pending.tolist() == [1, 0, 0, 0]
    for sender, recipient in ((1, -1), (1, 4), (-1, 2), (4, 2)):
        m = mailboxes(4)
        assert not _post(m, sender, recipient) and not _post(m, 2, 9)
        # nothing posted; the first offender is kept, every one counted
        assert m.out_pending.tolist() == [0, 0, 0, 0] and m.seq.tolist() == [0, 0, 0, 0]
        assert m.rejected.tolist() == [2, sender, recipient]


@njit
def _give_to_n(key, n, p, value, mail):
    # every agent gives to its neighbour, but the last one to the row past the end
    for i in range(n):
        if value[i] > 0 and post(mail, i, i + 1, 1, value[i]):
            value[i] = 0


BAD = Model(
    "bad_recipient", columns=[Column("value", "int64", init=1)],
    resources=[Mailboxes("mail", bound=BOUND)],
    systems=[Deliver("mail"), Rows("take", take, reads=("value", "mail"), writes=("value",)),
             Kernel("give", _give_to_n, reads=("value", "mail"))],
)


def test_a_post_to_no_row_raises_after_the_run_naming_it():
    w = ModelWorld(BAD, 10, seed=0, threads=1)
    with pytest.raises(UnknownAgent) as err:
        w.run(5, stats=False)
    e = err.value
    assert (e.field, e.value, e.bound) == ("recipient", 10, 10)
    assert "recipient=10 is not a row (0..9)" in str(e) and "from sender 9" in str(e)
    assert "5 post(s)" in str(e)  # the last agent tried once a tick
    # the run finished its ticks consistently: nothing was lost, then counts were reset
    mail = w.resources["mail"]
    held = mail.out_rec[:, 16:20].copy().view("<u4")[:, 0] * mail.out_pending
    assert w.tick == 5 and w.columns["value"].sum() + held.sum() == 10
    assert mail.rejected.tolist() == [0, 0, 0]


def test_bad_sizes_name_the_field():
    with pytest.raises(ConfigError) as err:
        mailboxes(10, bound=0)
    assert err.value.field == "bound"
    with pytest.raises(ConfigError) as err:
        mailboxes(10, pool_per_agent=-1)
    assert err.value.field == "pool_per_agent"
