"""A supplier with one press (asset) for the live-ingestion tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dure.domain.connectors import Connector
from dure.domain.organisations import Organisation
from dure.domain.plant import Asset
from dure.services.live.connectors import save_connector
from dure.services.platform.accounts import create_org, system_caller
from dure.store.session import Store


@dataclass
class PressShop:
    store: Store
    org: Organisation
    asset: Asset

    def connector(self, name: str, kind: str, config: dict[str, Any]) -> Connector:
        """Save (create or update) a connector of this organisation."""
        with self.store.session(system_caller(self.org)) as s:
            return save_connector(s, name, kind, config)

    def readings(self, channel: str) -> list[tuple[int, float]]:
        """All stored (time, value) of the press's channel, oldest first."""
        with self.store.session(system_caller(self.org)) as s:
            found = s.channels.list(asset_id=self.asset.id, name=channel).items
            if not found:
                return []
            rows = s.readings.read(found[0].id, None, None, 10_000_000)
        return [(r.ts_us, r.value) for r in rows]

    def stored_messages(self, connector_id: str) -> int:
        with self.store.session(system_caller(self.org)) as s:
            return s.connectors.count_stored(connector_id)

    def status(self, connector_id: str) -> dict[str, Any]:
        """The status the connector's runner last wrote."""
        with self.store.session(system_caller(self.org)) as s:
            return s.connectors.get(connector_id).status

    def rejects(self, connector_id: str) -> list[dict[str, Any]]:
        with self.store.session(system_caller(self.org)) as s:
            return s.connectors.rejects(connector_id, 1000)


def press_shop(store: Store, slug: str = "press-shop") -> PressShop:
    """Create the organisation and its press ``press7``."""
    with store.system() as s:
        org = create_org(s, "Press Shop", "supplier", slug)
    with store.session(system_caller(org)) as s:
        asset = s.assets.add(Asset(org_id=org.id, name="press7"))
    return PressShop(store, org, asset)
