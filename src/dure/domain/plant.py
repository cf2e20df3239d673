"""The physical plant: sites, lines, stations, assets (machines) and their sensor channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dure.domain.ids import new_id, utcnow


@dataclass(kw_only=True)
class Site:
    """A factory of one organisation."""

    org_id: str
    name: str
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class Line:
    """A production line in a site (a press line, an assembly line)."""

    org_id: str
    site_id: str
    name: str
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class Station:
    """A place on a line where work or inspection happens."""

    org_id: str
    line_id: str
    name: str
    kind: str = "process"
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class Asset:
    """A machine (press, robot, motor) whose sensors are recorded."""

    org_id: str
    name: str
    line_id: str | None = None
    station_id: str | None = None
    kind: str = "machine"
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class SensorChannel:
    """One measured signal of an asset, e.g. vibration RMS in mm/s."""

    org_id: str
    asset_id: str
    name: str
    unit: str = ""
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
