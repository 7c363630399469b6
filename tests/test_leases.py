"""Mailbox leases on SQLite and PostgreSQL: one owner at a time, renewed by its owner, taken
over once expired, given back at once on release, and one winner when many claim together."""

from __future__ import annotations

import threading
import time

from bot.adapters.leases import Leases
from bot.adapters.store import Store


def test_lease_has_one_owner_until_it_expires(database_url: str) -> None:
    """A holds the lease and renews it; B is refused until it runs out, then B holds it and
    A's renewal fails."""
    store = Store(database_url)
    a, b = (Leases(store.engine, owner, seconds=0.6) for owner in ("a", "b"))
    assert a.claim("berlin") and not b.claim("berlin") and a.claim("berlin")
    assert [(m, o) for m, o, _ in b.held()] == [("berlin", "a")]
    assert b.claim("lyon")  # another mailbox is free
    time.sleep(0.8)
    assert b.claim("berlin") and not a.claim("berlin")
    store.close()


def test_release_frees_the_mailbox_at_once(database_url: str) -> None:
    """A clean stop gives the lease back: another worker claims it without waiting."""
    store = Store(database_url)
    a, b = (Leases(store.engine, owner, seconds=60) for owner in ("a", "b"))
    assert a.claim("berlin") and not b.claim("berlin")
    a.release("berlin")
    assert b.claim("berlin") and b.held()[0][1] == "b"
    b.release("berlin")
    assert b.held() == []
    store.close()


def test_many_workers_claiming_at_once_give_one_owner(database_url: str) -> None:
    """Eight workers claim a new mailbox at the same moment: exactly one gets it."""
    store = Store(database_url)
    start, won = threading.Barrier(8), []

    def claim(n: int) -> None:
        leases = Leases(store.engine, f"w{n}", seconds=60)
        start.wait()
        if leases.claim("berlin"):
            won.append(n)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    store.close()
