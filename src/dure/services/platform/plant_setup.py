"""Setting up a company without the API: sites, lines, stations, part numbers, defect
types, machines and their sensor channels, each checked and named in words.

The command line (`dure setup …`) calls these; references are given by id or by name.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from dure.domain.parts import DefectType, PartNumber
from dure.domain.plant import Asset, Line, SensorChannel, Site, Station
from dure.errors import InvalidInput
from dure.store.session import Session

E = TypeVar("E")
CODE = re.compile(r"^[a-z0-9_\-]{1,64}$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _name(field: str, value: str, longest: int = 200) -> str:
    text = (value or "").strip()
    if not text or len(text) > longest or CONTROL.search(text):
        raise InvalidInput(field, f"give 1 to {longest} characters (no control characters)")
    return text


def _one(field: str, kind: str, found: list[Any], wanted: str, how: str) -> Any:
    if not found:
        raise InvalidInput(field, f"no {kind} {wanted!r} in your organisation; {how}")
    if len(found) > 1:
        ids = ", ".join(f.id for f in found[:5])
        raise InvalidInput(field, f"{len(found)} {kind}s are named {wanted!r}: give its id ({ids})")
    return found[0]


def _own(repository: Any, field: str, kind: str, wanted: str, how: str, **scope: Any) -> Any:
    """The caller's own entity whose id or name is ``wanted``."""
    by_id = [e for e in repository.list_own(id=wanted, **scope)]
    found = by_id or repository.list_own(name=wanted, **scope)
    return _one(field, kind, found, wanted, how)


def add_site(session: Session, name: str) -> Site:
    """A new site (admins)."""
    return session.sites.add(Site(org_id=session.caller.org_id, name=_name("name", name)))


def add_line(session: Session, site: str, name: str) -> Line:
    """A new line in the caller's site ``site`` (id or name; admins)."""
    found = _own(session.sites, "site", "site", site, "create it with `dure setup site`")
    return session.lines.add(
        Line(org_id=session.caller.org_id, site_id=found.id, name=_name("name", name))
    )


def add_station(session: Session, line: str, name: str, kind: str = "process") -> Station:
    """A new station on the caller's line ``line`` (id or name; admins)."""
    found = _own(session.lines, "line", "line", line, "create it with `dure setup line`")
    return session.stations.add(
        Station(
            org_id=session.caller.org_id,
            line_id=found.id,
            name=_name("name", name),
            kind=_name("kind", kind, 32),
        )
    )


def add_part(
    session: Session, number: str, name: str, oem_part_id: str | None = None
) -> PartNumber:
    """A new part number; a supplier may give the id of the OEM part it makes (refused,
    naming ``oem_part_id``, unless that part is an OEM's it supplies)."""
    return session.parts.add(
        PartNumber(
            org_id=session.caller.org_id,
            number=_name("number", number, 100),
            name=_name("name", name),
            oem_part_id=oem_part_id or None,
        )
    )


def add_defect_type(
    session: Session, code: str, name: str, severity: int = 2, description: str = ""
) -> DefectType:
    """A new class of the caller's defect taxonomy (code: lower-case letters, digits, _ -)."""
    if not CODE.match(code or ""):
        raise InvalidInput("code", "give 1 to 64 lower-case letters, digits, '_' or '-'")
    if severity not in (1, 2, 3):
        raise InvalidInput("severity", "give 1 (minor), 2 or 3 (critical)")
    if CONTROL.search(description):
        raise InvalidInput("description", "no control characters")
    return session.defect_types.add(
        DefectType(
            org_id=session.caller.org_id,
            code=code,
            name=_name("name", name),
            severity=severity,
            description=description,
        )
    )


def add_asset(
    session: Session,
    name: str,
    line: str | None = None,
    station: str | None = None,
    kind: str = "machine",
) -> Asset:
    """A new machine, on one of the caller's lines or stations if named (id or name)."""
    line_id = station_id = None
    if line:
        line_id = _own(session.lines, "line", "line", line, "create it with `dure setup line`").id
    if station:
        how = "create it with `dure setup station`"
        station_id = _own(session.stations, "station", "station", station, how).id
    return session.assets.add(
        Asset(
            org_id=session.caller.org_id,
            name=_name("name", name),
            line_id=line_id,
            station_id=station_id,
            kind=_name("kind", kind, 32),
        )
    )


def add_channel(session: Session, asset: str, name: str, unit: str = "") -> SensorChannel:
    """A new sensor channel of the caller's machine ``asset`` (id or name)."""
    found = _own(session.assets, "asset", "machine", asset, "create it with `dure setup asset`")
    if len(unit) > 32 or CONTROL.search(unit):
        raise InvalidInput("unit", "give at most 32 characters")
    return session.channels.add(
        SensorChannel(
            org_id=session.caller.org_id, asset_id=found.id, name=_name("name", name), unit=unit
        )
    )
