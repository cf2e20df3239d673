"""Server-sent events: the dashboard is pushed alerts and inspected parts as they are
stored, instead of polling.

``GET /api/events`` streams ``alert`` and ``inspection`` events of the caller's
organisation (``text/event-stream``; each event's id is the moment it is up to, and a
client that reconnects with ``Last-Event-ID`` gets what it missed). A stream ends after
``STREAM_SECONDS`` (the client reconnects; its token is checked again each time) or when
the token expires. One organisation holds at most ``STREAMS_PER_ORG`` streams at once, so
no tenant can tie up the server's connections.

The route is left out of the OpenAPI document: a stream has no response body a schema
can describe, and a schema-driven client would wait on it for its whole length.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import anyio
from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from dure.api.deps import CallerDep, InstallDep
from dure.domain.ids import utcnow
from dure.errors import TooManyAttempts
from dure.services.dashboard.events import read_changes

router = APIRouter(tags=["events"])
POLL_SECONDS = 0.5
STREAM_SECONDS = 300
STREAMS_PER_ORG = 20
CATCH_UP = timedelta(minutes=10)  # the furthest back a Last-Event-ID is honoured


class StreamSlots:
    """How many event streams each organisation holds open. A slot is given back when
    its stream ends, and lapses at the stream's end time in any case (a stream whose
    client left before it started never runs its own ending)."""

    def __init__(self, per_org: int) -> None:
        self.per_org = per_org
        self._open: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def take(self, org_id: str, until: datetime) -> None:
        """Count a new stream, or refuse it (429) when the organisation holds too many."""
        with self._lock:
            now = utcnow()
            held = [t for t in self._open.get(org_id, []) if t > now]
            if len(held) >= self.per_org:
                raise TooManyAttempts(
                    f"your organisation has {self.per_org} live event streams open; close a "
                    "dashboard tab or wait for one to end"
                )
            self._open[org_id] = [*held, until]

    def give_back(self, org_id: str, until: datetime) -> None:
        """Count a stream as closed."""
        with self._lock:
            held = self._open.get(org_id, [])
            if until in held:
                held.remove(until)


def _slots(request: Request) -> StreamSlots:
    slots = getattr(request.app.state, "event_streams", None)
    if slots is None:
        slots = request.app.state.event_streams = StreamSlots(STREAMS_PER_ORG)
    return slots  # type: ignore[no-any-return]


def _start(last_event_id: str | None) -> datetime:
    now = utcnow()
    if not last_event_id:
        return now
    try:
        moment = datetime.fromisoformat(last_event_id)
    except ValueError:
        return now
    if moment.tzinfo is None or not now - CATCH_UP <= moment <= now:
        return now
    return moment


@router.get("/api/events", include_in_schema=False)
async def events(
    request: Request,
    install: InstallDep,
    caller: CallerDep,
    last_event_id: str | None = Header(None, max_length=64),
) -> EventSourceResponse:
    """Alerts and inspected parts of your organisation, pushed as they are stored."""
    moment = _start(last_event_id)
    ends = utcnow() + timedelta(seconds=STREAM_SECONDS)
    if caller.token_expires_at is not None:
        ends = min(ends, caller.token_expires_at)
    slots = _slots(request)
    slots.take(caller.org_id, ends)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        nonlocal moment
        try:
            yield ServerSentEvent(data="{}", event="ready", id=moment.isoformat())
            while utcnow() < ends:
                changes = await run_in_threadpool(read_changes, install.store, caller, moment)
                for change in changes:
                    moment = max(moment, change.at)
                    yield ServerSentEvent(
                        data=json.dumps(change.data), event=change.kind, id=moment.isoformat()
                    )
                await anyio.sleep(POLL_SECONDS)
        finally:
            slots.give_back(caller.org_id, ends)

    return EventSourceResponse(stream(), ping=15)
