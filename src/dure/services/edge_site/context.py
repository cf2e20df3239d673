"""What the edge-site services need from the install they run in."""

from __future__ import annotations

from dataclasses import dataclass

from dure.services.collaboration.context import Collab
from dure.services.inspection.records import ImageLimits
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Store


@dataclass
class EdgeSite:
    """The store, the organisation keys (packages are signed with the org's collaboration
    key), the loaded inspectors and the image limits results are checked against."""

    collab: Collab
    inspectors: InspectorCache
    limits: ImageLimits

    @property
    def store(self) -> Store:
        """The install's store."""
        return self.collab.store
