"""One tenant never stalls another: while a write transaction holds the store (another
tenant's batch, a training job), reads answer at once and nothing fails."""

from __future__ import annotations

import threading
import time

from dure.domain.plant import Site
from dure.services.platform.accounts import system_caller
from dure.store.session import Store
from tests.factories import World

HOLD_S = 3.0


def _hold_the_write_lock(store: Store, world: World, started: threading.Event) -> None:
    with store.session(system_caller(world.b.org)) as s:
        s.sites.add(Site(org_id=world.b.org.id, name="busy"))  # a write: the lock is taken
        started.set()
        time.sleep(HOLD_S)


def test_reads_do_not_wait_for_another_tenants_write(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    started = threading.Event()
    holder = threading.Thread(target=_hold_the_write_lock, args=(store, world, started))
    holder.start()
    assert started.wait(10)
    timings = []
    for path, auth in (
        ("/api/health", {}),
        ("/api/me", world.a.auth("viewer")),
        ("/api/inspections", world.a.auth("operator")),
        (f"/api/lines/{world.a.ids['line']}", world.a.auth("viewer")),
        ("/api/alerts", world.b.auth("viewer")),  # the writing tenant's own reads too
    ):
        begun = time.perf_counter()
        response = client.get(path, headers=auth)
        timings.append(time.perf_counter() - begun)
        assert response.status_code == 200, (path, response.text)
    assert holder.is_alive(), "the writer let go before the reads were measured"
    assert max(timings) < 1.0, timings  # no read waited for the lock
    # a read of shared data is audited: that write waits its turn, and is kept
    shared = client.get("/api/inspections", headers=world.oem.auth("engineer"))
    assert shared.status_code == 200 and shared.json()["items"]
    holder.join()
    with store.session(system_caller(world.a.org)) as s:
        assert s.audit_events.list(action="read_shared").items
