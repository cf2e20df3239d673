"""Where this install may send requests of its own: partner installs, alert webhooks and
brokers, federated servers.

A URL someone typed (an invitation, a webhook) must not turn the server into a client of
its own host or of the factory network behind it: addresses that resolve to loopback,
link-local, private, reserved or multicast ranges are refused unless the operator allows
them (``DURE_ALLOW_PRIVATE_ADDRESSES``, or named networks in ``DURE_OUTBOUND_NETWORKS``).
The name is resolved at every check, so a name that later points inside is caught when
the request is made, not only when it was configured.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dure.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883, "tcp": 0}


def _inside(ip: Address) -> bool:
    return bool(
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


@dataclass(frozen=True)
class OutboundPolicy:
    """Which addresses outgoing requests may reach."""

    allow_private: bool = False
    networks: tuple[Network, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, allow_private: bool, networks: list[str]) -> OutboundPolicy:
        """The policy of the settings (networks in CIDR form, e.g. 10.1.0.0/16)."""
        parsed = []
        for text in networks:
            try:
                parsed.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError as exc:
                raise InvalidInput("outbound_networks", f"{text!r} is not a network") from exc
        return cls(allow_private, tuple(parsed))

    def allows(self, ip: Address) -> bool:
        """Whether ``ip`` may be reached."""
        if any(ip in net for net in self.networks):
            return True
        return self.allow_private or not _inside(ip)

    def check(self, url: str, field_name: str) -> None:
        """InvalidInput naming ``field_name`` unless every address ``url``'s host resolves
        to may be reached (a host that does not resolve is refused too)."""
        parts = urlsplit(url if "://" in url else f"tcp://{url}")
        host = parts.hostname
        if not host:
            raise InvalidInput(field_name, f"{url[:200]!r} names no host")
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            raise InvalidInput(field_name, f"{url[:200]!r} has a bad port") from None
        if self.allow_private:  # every address may be reached: nothing to resolve
            return
        try:
            found = socket.getaddrinfo(host, port or None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            raise InvalidInput(field_name, f"{host!r} does not resolve to an address") from None
        for entry in found:
            ip = ipaddress.ip_address(entry[4][0].split("%", 1)[0])
            if not self.allows(ip):
                raise InvalidInput(
                    field_name,
                    f"{host!r} resolves to {ip}, an address on this host or a private "
                    "network; an operator may allow such addresses "
                    "(DURE_ALLOW_PRIVATE_ADDRESSES or DURE_OUTBOUND_NETWORKS)",
                )
