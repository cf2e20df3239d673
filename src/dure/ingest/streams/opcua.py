"""OPC UA source: a subscription to the configured variables (tags) of one server.

Each data change becomes a message whose id is the tag and its source time, so a value
the server sends again after a reconnect is stored once. A tag the server does not know
(or will not let us read) is reported once as a refusal naming the tag; the other tags go
on. OPC UA keeps no queue for an absent client: values changed while Dure was away are
not redelivered (the server's sampling is the record, unlike MQTT's persistent session).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from asyncua import Client, ua

from dure.domain.connectors import StreamMessage, StreamReading, StreamRejection
from dure.ingest.streams.config import OpcuaConfig, OpcuaTag
from dure.ingest.streams.pipeline import Arrivals, Incoming

log = logging.getLogger("dure.ingest.opcua")


class OpcuaSource:
    """Runs an asyncua client on its own thread; items are taken in arrival order."""

    def __init__(self, config: OpcuaConfig, retry_s: float = 2.0) -> None:
        self.config = config
        self.retry_s = retry_s
        self.arrivals = Arrivals()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._tag_of: dict[ua.NodeId, OpcuaTag] = {}
        self._connected = False
        self._last_error = ""
        self._reported: set[str] = set()
        self.subscribed: list[str] = []

    def start(self) -> None:
        """Connect and subscribe in the background, reconnecting when the link drops."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the session."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def take(self, max_items: int, window_s: float, stop: threading.Event) -> list[Incoming]:
        """The next batch of items, in arrival order."""
        return self.arrivals.take(max_items, window_s, stop)

    def ack(self, tokens: Sequence[Any]) -> None:
        """OPC UA subscriptions acknowledge on their own; nothing to do."""

    def describe(self) -> dict[str, Any]:
        """Connection state for the connector's status."""
        return {
            "kind": "opcua",
            "endpoint": self.config.endpoint,
            "connected": self._connected,
            "subscribed": len(self.subscribed),
            "queued": len(self.arrivals),
            "last_error": self._last_error,
        }

    async def _main(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._session()
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect later
                self._connected = False
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning("OPC UA %s: %s; retrying", self.config.endpoint, self._last_error)
            await asyncio.sleep(0 if self._stopping.is_set() else self.retry_s)

    async def _session(self) -> None:
        client = Client(self.config.endpoint, timeout=5)
        if self.config.username:
            client.set_user(self.config.username)
            client.set_password(self.config.password or "")
        async with client:
            nodes, tags = [], []
            for tag in self.config.tags:
                try:
                    node = client.get_node(tag.node_id)
                except Exception as exc:  # noqa: BLE001 - a malformed node id string
                    self._refuse_tag(tag, f"is not a valid node id ({exc})")
                    continue
                nodes.append(node)
                tags.append(tag)
                self._tag_of[node.nodeid] = tag
            subscription = await client.create_subscription(
                self.config.publishing_interval_ms, self
            )
            results = await subscription.subscribe_data_change(nodes) if nodes else []
            self.subscribed = []
            for tag, result in zip(tags, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    self._refuse_tag(tag, f"was refused by the server: {result.name}")
                else:
                    self.subscribed.append(tag.node_id)
            self._connected = True
            self._last_error = ""
            while not self._stopping.is_set():
                await asyncio.sleep(0.5)
                await client.check_connection()
        self._connected = False

    def _refuse_tag(self, tag: OpcuaTag, why: str) -> None:
        reason = f"unknown tag {tag.node_id} ({tag.asset}/{tag.channel}) {why}"
        if reason in self._reported:
            return
        self._reported.add(reason)
        log.warning(reason)
        now = time.time_ns() // 1000
        self.arrivals.push(
            Incoming(None, tag.node_id, StreamRejection(reason, now, tag.node_id), now)
        )

    def datachange_notification(self, node, val, data) -> None:  # type: ignore[no-untyped-def]
        """asyncua's callback for one changed value."""
        tag = self._tag_of.get(node.nodeid)
        if tag is None:
            return
        now = time.time_ns() // 1000
        value = data.monitored_item.Value
        stamp = value.SourceTimestamp or value.ServerTimestamp
        ts_us = int(stamp.timestamp() * 1_000_000) if stamp is not None else now
        number = _number(val)
        if number is None:
            reason = f"tag {tag.node_id} ({tag.asset}/{tag.channel}): {val!r} is not a number"
            item = StreamRejection(reason, now, tag.node_id, f"{tag.node_id}@{ts_us}")
        else:
            item = StreamMessage(
                f"{tag.node_id}@{ts_us}",
                now,
                (StreamReading(tag.asset, tag.channel, ts_us, number),),
                tag.node_id,
            )
        self.arrivals.push(Incoming(None, tag.node_id, item, now))

    def status_change_notification(self, status) -> None:  # type: ignore[no-untyped-def]
        """asyncua's callback when the subscription's state changes."""
        self._last_error = f"subscription status {status}"


def opcua_decoder(item: Incoming) -> tuple[StreamMessage | None, list[StreamRejection]]:
    """OPC UA items arrive decoded: a message, or a refusal to keep."""
    if isinstance(item.payload, StreamRejection):
        return None, [item.payload]
    assert isinstance(item.payload, StreamMessage)
    return item.payload, []


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)  # NaN and inf are refused later, one by one, with a reason
    return None


async def browse(endpoint: str, max_nodes: int = 2000) -> list[dict[str, str]]:
    """The variables under the server's Objects folder: node id, path and data type."""
    found: list[dict[str, str]] = []
    async with Client(endpoint, timeout=5) as client:
        queue = [(client.nodes.objects, "Objects")]
        while queue and len(found) < max_nodes:
            node, path = queue.pop(0)
            for child in await node.get_children():
                name = (await child.read_browse_name()).Name
                node_class = await child.read_node_class()
                if node_class == ua.NodeClass.Variable:
                    data_type = await child.read_data_type_as_variant_type()
                    found.append(
                        {
                            "node_id": child.nodeid.to_string(),
                            "path": f"{path}/{name}",
                            "type": data_type.name,
                        }
                    )
                elif node_class == ua.NodeClass.Object and name != "Server":
                    queue.append((child, f"{path}/{name}"))
    return found
