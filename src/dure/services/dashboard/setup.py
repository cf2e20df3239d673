"""What the dashboard's setup page shows: the caller's plant, parts, defect taxonomy
(its own classes and those inherited from the OEMs it supplies) and machines, in one read."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dure.domain.pages import Page
from dure.store.session import Session

MAX_TAXONOMY = 1000


def setup_view(session: Session) -> dict[str, Any]:
    """Sites, lines, stations, part numbers, defect types and assets with their channels.

    Each defect type says whether it is ``inherited`` (published by an OEM the caller
    supplies; read-only here) and names its ``owner``.
    """
    own = session.caller.org_id
    names = {o.id: o.name for o in session.organisations.list()}
    channels: dict[str, list[dict[str, Any]]] = {}
    for channel in session.channels.list_own():
        channels.setdefault(channel.asset_id, []).append(asdict(channel))
    taxonomy = sorted(  # the OEM's classes first, then the caller's own, each by code
        session.defect_types.list(Page(limit=MAX_TAXONOMY)).items,
        key=lambda d: (d.org_id == own, d.code),
    )
    return {
        "sites": [asdict(s) for s in session.sites.list_own()],
        "lines": [asdict(li) for li in session.lines.list_own()],
        "stations": [asdict(s) for s in session.stations.list_own()],
        "parts": [asdict(p) for p in session.parts.list_own()],
        "defect_types": [
            {
                **asdict(d),
                "inherited": d.org_id != own,
                "owner": names.get(d.org_id, d.org_id),
            }
            for d in taxonomy
        ],
        "assets": [
            {**asdict(a), "channels": channels.get(a.id, [])} for a in session.assets.list_own()
        ],
    }
