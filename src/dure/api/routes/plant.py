"""Sites, lines, stations, assets, sensor channels and their readings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query

from dure.api.deps import PageDep, SessionDep
from dure.api.schemas import AssetIn, ChannelIn, Instant, LineIn, ReadingsIn, SiteIn, StationIn
from dure.domain.pages import Listing
from dure.domain.plant import Asset, Line, SensorChannel, Site, Station
from dure.services.imports.readings import add_channel_readings

router = APIRouter(tags=["plant"])


@router.get("/api/sites")
def list_sites(session: SessionDep, page: PageDep) -> Listing[Site]:
    """Your sites."""
    return session.sites.list(page)


@router.post("/api/sites", status_code=201)
def add_site(body: SiteIn, session: SessionDep) -> Site:
    """Create a site (admins)."""
    return session.sites.add(Site(org_id=session.caller.org_id, **body.model_dump()))


@router.get("/api/sites/{site_id}")
def get_site(site_id: str, session: SessionDep) -> Site:
    """One of your sites."""
    return session.sites.get(site_id)


@router.get("/api/lines")
def list_lines(session: SessionDep, page: PageDep, site_id: str | None = None) -> Listing[Line]:
    """Your production lines."""
    return session.lines.list(page, site_id=site_id)


@router.post("/api/lines", status_code=201)
def add_line(body: LineIn, session: SessionDep) -> Line:
    """Create a line in one of your sites (admins)."""
    return session.lines.add(Line(org_id=session.caller.org_id, **body.model_dump()))


@router.get("/api/lines/{line_id}")
def get_line(line_id: str, session: SessionDep) -> Line:
    """One of your lines."""
    return session.lines.get(line_id)


@router.get("/api/stations")
def list_stations(
    session: SessionDep, page: PageDep, line_id: str | None = None
) -> Listing[Station]:
    """Stations on your lines."""
    return session.stations.list(page, line_id=line_id)


@router.post("/api/stations", status_code=201)
def add_station(body: StationIn, session: SessionDep) -> Station:
    """Create a station on one of your lines (admins)."""
    return session.stations.add(Station(org_id=session.caller.org_id, **body.model_dump()))


@router.get("/api/stations/{station_id}")
def get_station(station_id: str, session: SessionDep) -> Station:
    """One of your stations."""
    return session.stations.get(station_id)


@router.get("/api/assets")
def list_assets(session: SessionDep, page: PageDep) -> Listing[Asset]:
    """Your machines."""
    return session.assets.list(page)


@router.post("/api/assets", status_code=201)
def add_asset(body: AssetIn, session: SessionDep) -> Asset:
    """Register a machine (engineers)."""
    return session.assets.add(Asset(org_id=session.caller.org_id, **body.model_dump()))


@router.get("/api/assets/{asset_id}")
def get_asset(asset_id: str, session: SessionDep) -> Asset:
    """One of your machines."""
    return session.assets.get(asset_id)


@router.get("/api/assets/{asset_id}/channels")
def list_channels(asset_id: str, session: SessionDep, page: PageDep) -> Listing[SensorChannel]:
    """Sensor channels of one machine."""
    session.assets.get(asset_id)
    return session.channels.list(page, asset_id=asset_id)


@router.post("/api/assets/{asset_id}/channels", status_code=201)
def add_channel(asset_id: str, body: ChannelIn, session: SessionDep) -> SensorChannel:
    """Add a sensor channel to one of your machines."""
    session.assets.get(asset_id)
    return session.channels.add(
        SensorChannel(org_id=session.caller.org_id, asset_id=asset_id, **body.model_dump())
    )


@router.get("/api/channels/{channel_id}/readings")
def get_readings(
    channel_id: str,
    session: SessionDep,
    start: Instant | None = None,
    end: Instant | None = None,
    limit: int = Query(10_000, ge=1, le=100_000),
) -> dict[str, Any]:
    """Readings of a channel in [start, end), oldest first."""
    rows = session.readings.read(channel_id, _us(start), _us(end), limit)
    return {
        "channel_id": channel_id,
        "readings": [
            {"time": datetime.fromtimestamp(r.ts_us / 1e6, UTC).isoformat(), "value": r.value}
            for r in rows
        ],
    }


@router.post("/api/channels/{channel_id}/readings", status_code=201)
def add_readings(channel_id: str, body: ReadingsIn, session: SessionDep) -> dict[str, int]:
    """Store readings of one of your channels; repeats of a stored time are ignored."""
    readings = [(_us(r.time), r.value) for r in body.readings]
    new = add_channel_readings(session, channel_id, readings)
    return {"received": len(readings), "stored_new": new}


def _us(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(round(moment.timestamp() * 1_000_000))
