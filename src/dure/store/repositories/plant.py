"""Repositories of the plant: sites, lines, stations, assets and sensor channels."""

from __future__ import annotations

from dure.domain.grants import GrantScope
from dure.domain.plant import Asset, Line, SensorChannel, Site, Station
from dure.domain.users import Role
from dure.store import tables as t
from dure.store.scoped import ScopedRepository


class SiteRepository(ScopedRepository[Site]):
    """The caller's sites."""

    table = t.sites
    entity = Site
    resource = "site"
    write_role = Role.ADMIN


class LineRepository(ScopedRepository[Line]):
    """The caller's production lines."""

    table = t.lines
    entity = Line
    resource = "line"
    write_role = Role.ADMIN

    def check_references(self, item: Line) -> None:
        self.require_own(t.sites, "site_id", item.site_id)


class StationRepository(ScopedRepository[Station]):
    """Stations on the caller's lines."""

    table = t.stations
    entity = Station
    resource = "station"
    write_role = Role.ADMIN

    def check_references(self, item: Station) -> None:
        self.require_own(t.lines, "line_id", item.line_id)


class AssetRepository(ScopedRepository[Asset]):
    """The caller's machines."""

    table = t.assets
    entity = Asset
    resource = "asset"

    def check_references(self, item: Asset) -> None:
        self.require_own(t.lines, "line_id", item.line_id)
        self.require_own(t.stations, "station_id", item.station_id)


class SensorChannelRepository(ScopedRepository[SensorChannel]):
    """Sensor channels of the caller's machines (and of machines shared by grant)."""

    table = t.sensor_channels
    entity = SensorChannel
    resource = "sensor_channel"
    grant_scope = GrantScope.SENSOR_READINGS

    def check_references(self, item: SensorChannel) -> None:
        self.require_own(t.assets, "asset_id", item.asset_id)

    def extra_columns(self, item: SensorChannel) -> dict[str, object]:
        return {"key": t.channel_key(item.id)}
