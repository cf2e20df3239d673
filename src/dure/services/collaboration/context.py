"""What the collaboration services need from the install they run in, and the audit of
refusals (kept in their own transaction, so a refused request still leaves its trace)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dure.collab.outbound import OutboundPolicy
from dure.collab.peer_client import PeerClient
from dure.collab.signing import KeyRing, fingerprint
from dure.domain.collab import Partner
from dure.domain.root_cause import MIN_GROUP, REQUESTS_PER_DAY
from dure.store.session import Store

log = logging.getLogger(__name__)


@dataclass
class Collab:
    """What the collaboration services need from the install they run in."""

    store: Store
    keys: KeyRing
    public_url: str
    work_dir: Path
    flower: dict[str, Any] = field(default_factory=dict)
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    # root-cause answers describe groups of at least this many parts (k, never below 5)
    root_cause_min_group: int = MIN_GROUP
    # requests one ROOT_CAUSE grant may have computed per rolling 24 hours
    root_cause_requests_per_day: int = REQUESTS_PER_DAY

    def own_key(self, org_id: str) -> str:
        """The organisation's public key, made (and recorded) on first use."""
        with self.store.system() as system:
            public = system.peers.org_public_key(org_id)
            if public is not None and self.keys.has(org_id):
                return public
            public = self.keys.create(org_id)
            system.peers.replace_org_public_key(org_id, public, fingerprint(public))
            system.audit.record(
                "create_key",
                "org_key",
                org_id,
                org_id=org_id,
                detail={"fingerprint": fingerprint(public)},
            )
            return public

    def client(self, partner: Partner) -> PeerClient:
        """A signed HTTP client from our organisation to this partner (its address
        checked against the outbound policy at every use)."""
        self.outbound.check(partner.url, "partner.url")
        return PeerClient(
            partner.url,
            partner.org_id,
            partner.partner_org_id,
            self.keys.private_pem(partner.org_id),
            partner.outbound_token,
        )


def audit_refusal(
    store: Store, org_id: str, resource: str, reason: str, detail: dict[str, Any]
) -> None:
    """Keep a refusal in the audit log of ``org_id`` (its own transaction: it must survive)."""
    with store.system() as system:
        if system.identities.org_kind(org_id) is None:
            log.warning("refused %s for unknown organisation %s: %s", resource, org_id, reason)
            return
        system.audit.record(
            "refuse", resource, None, org_id=org_id, detail={"reason": reason, **detail}
        )
