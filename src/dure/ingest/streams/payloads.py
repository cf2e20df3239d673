"""Payloads of live messages: JSON (readable) and a compact binary form, both to readings.

JSON, one object per message::

    {"id": "press7-000123", "ts": "2026-11-23T15:00:00.125Z", "values": {"force": 812.5}}
    {"id": "…", "readings": [{"channel": "force", "ts_ms": 1795446000125, "value": 812.5}]}

``ts`` is an ISO 8601 time with a zone or a number of seconds since the epoch; ``ts_ms``
and ``ts_us`` are integer milliseconds / microseconds. ``id`` is optional: without it the
message's content digest is its id, so an identical redelivery is still stored once.

Binary, little-endian: ``b"DU"``, version 1, flags 0, message id (u64), time in µs (i64),
count (u16), then per value the channel index into the topic rule's ``channels`` (u16) and
the value (f64) — 22 + 10 bytes per value.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import struct
from collections.abc import Sequence
from datetime import UTC, datetime

from paho.mqtt.client import topic_matches_sub

from dure.domain.connectors import StreamMessage, StreamReading, StreamRejection
from dure.domain.times import iso_us, to_us
from dure.ingest.streams.config import StreamPolicy, TopicRule

_HEADER = struct.Struct("<2sBBQqH")
_VALUE = struct.Struct("<Hd")
MAGIC = b"DU"
EXCERPT_BYTES = 200


class PayloadError(ValueError):
    """A payload that cannot be read at all; the message says what is wrong, in words."""


def encode_binary(message_id: int, ts_us: int, values: Sequence[tuple[int, float]]) -> bytes:
    """The compact binary form of one message (channel index, value) at one time."""
    if len(values) > 65535:
        raise ValueError("at most 65535 values per binary message")
    head = _HEADER.pack(MAGIC, 1, 0, message_id, ts_us, len(values))
    return head + b"".join(_VALUE.pack(i, v) for i, v in values)


class RuleBook:
    """Topic rules with the match of each topic seen remembered (matching is costly)."""

    def __init__(self, rules: Sequence[TopicRule], remember: int = 100_000) -> None:
        self.rules = list(rules)
        self.remember = remember
        self._seen: dict[str, TopicRule | None] = {}

    def rule_for(self, topic: str) -> TopicRule | None:
        """The first rule whose filter matches ``topic``."""
        try:
            return self._seen[topic]
        except KeyError:
            pass
        found = rule_for(topic, self.rules)
        if len(self._seen) >= self.remember:
            self._seen.clear()
        self._seen[topic] = found
        return found


def rule_for(topic: str, rules: Sequence[TopicRule]) -> TopicRule | None:
    """The first rule whose filter matches ``topic``."""
    for rule in rules:
        if topic_matches_sub(rule.filter, topic):
            return rule
    return None


def decode(topic: str, payload: bytes, rule: TopicRule, received_us: int) -> StreamMessage:
    """One message's readings as the source names them; PayloadError when unreadable."""
    asset = rule.asset if rule.asset is not None else _level(topic, rule.asset_level)
    if rule.format == "binary":
        return _decode_binary(topic, payload, rule, asset, received_us)
    return _decode_json(topic, payload, asset, received_us)


def excerpt(payload: bytes) -> str:
    """The start of a payload, printable, for a rejection record."""
    head = payload[:EXCERPT_BYTES]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "hex " + head.hex()
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):  # binary that decodes
        return "hex " + head.hex()
    return text


def check_readings(
    message: StreamMessage, policy: StreamPolicy, now_us: int
) -> tuple[StreamMessage, list[StreamRejection]]:
    """Drop readings that are not finite or whose time is implausible, saying why."""
    latest = now_us + int(policy.max_future_s * 1e6)
    earliest = _year_start_us(policy.oldest_year)
    if all(earliest <= r.ts_us <= latest and math.isfinite(r.value) for r in message.readings):
        return message, []  # the usual case, without building anything
    kept, refused = [], []
    for r in message.readings:
        reason = None
        if not math.isfinite(r.value):
            reason = f"{r.asset}/{r.channel}: value {r.value!r} is not a finite number"
        elif r.ts_us > latest:
            ahead = (r.ts_us - now_us) / 1e6
            reason = (
                f"{r.asset}/{r.channel}: time {iso_us(r.ts_us)} is {ahead:.0f} s ahead of the "
                f"receiver's clock (limit {policy.max_future_s:.0f} s): check the sender's clock"
            )
        elif r.ts_us < earliest:
            reason = f"{r.asset}/{r.channel}: time {iso_us(r.ts_us)} is before {policy.oldest_year}"
        if reason is None:
            kept.append(r)
        else:
            refused.append(
                StreamRejection(reason, message.received_us, message.topic, message.message_id)
            )
    if not refused:
        return message, []
    return (
        StreamMessage(message.message_id, message.received_us, tuple(kept), message.topic),
        refused,
    )


@functools.cache
def _year_start_us(year: int) -> int:
    return to_us(datetime(year, 1, 1, tzinfo=UTC))


def _level(topic: str, index: int | None) -> str:
    levels = topic.split("/")
    if index is None or index >= len(levels) or not levels[index]:
        raise PayloadError(f"topic {topic!r} has no asset name at level {index}")
    return levels[index]


def _decode_binary(
    topic: str, payload: bytes, rule: TopicRule, asset: str, received_us: int
) -> StreamMessage:
    if len(payload) < _HEADER.size:
        raise PayloadError(f"binary payload of {len(payload)} bytes is shorter than its header")
    magic, version, _flags, message_id, ts_us, count = _HEADER.unpack_from(payload)
    if magic != MAGIC or version != 1:
        raise PayloadError("binary payload does not start with DU version 1")
    expected = _HEADER.size + count * _VALUE.size
    if len(payload) != expected:
        raise PayloadError(
            f"binary payload says {count} values: {expected} bytes, got {len(payload)}"
        )
    readings = []
    for index, value in _VALUE.iter_unpack(payload[_HEADER.size :]):
        if index >= len(rule.channels):
            raise PayloadError(
                f"channel index {index} is beyond the {len(rule.channels)} channels "
                f"configured for {rule.filter!r}"
            )
        readings.append(StreamReading(asset, rule.channels[index], ts_us, value))
    return StreamMessage(str(message_id), received_us, tuple(readings), topic)


def _decode_json(topic: str, payload: bytes, asset: str, received_us: int) -> StreamMessage:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PayloadError("JSON payload must be an object with values or readings")
    message_id = body.get("id")
    if message_id is None:
        message_id = hashlib.blake2b(topic.encode() + b"\0" + payload, digest_size=16).hexdigest()
    elif not isinstance(message_id, str | int) or isinstance(message_id, bool):
        raise PayloadError("id must be a string or an integer")
    message_id = str(message_id)
    if len(message_id) > 128:
        raise PayloadError("id is longer than 128 characters")
    readings: list[StreamReading] = []
    if "values" in body:
        values = body["values"]
        if not isinstance(values, dict) or not values:
            raise PayloadError("values must be a non-empty object of channel: number")
        ts_us = _time_of(body, "message")
        for channel, value in values.items():
            readings.append(StreamReading(asset, str(channel), ts_us, _number(value, channel)))
    elif "readings" in body:
        items = body["readings"]
        if not isinstance(items, list) or not items:
            raise PayloadError("readings must be a non-empty list")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "channel" not in item or "value" not in item:
                raise PayloadError(f"readings[{i}] needs channel, value and a time")
            channel = str(item["channel"])
            readings.append(
                StreamReading(
                    str(item.get("asset", asset)),
                    channel,
                    _time_of(item, f"readings[{i}]"),
                    _number(item["value"], channel),
                )
            )
    else:
        raise PayloadError("JSON payload has neither values nor readings")
    return StreamMessage(message_id, received_us, tuple(readings), topic)


def _number(value: object, channel: object) -> float:
    # NaN and inf pass here; check_readings refuses them one by one with a reason.
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value is None:
            return math.nan
        raise PayloadError(f"value of channel {channel!r} is not a number: {value!r}")
    return float(value)


def _time_of(item: dict, where: str) -> int:  # type: ignore[type-arg]
    if "ts_us" in item:
        return _integer(item["ts_us"], f"{where}.ts_us")
    if "ts_ms" in item:
        return _integer(item["ts_ms"], f"{where}.ts_ms") * 1000
    ts = item.get("ts")
    if ts is None:
        raise PayloadError(f"{where} has no time (ts, ts_ms or ts_us)")
    if isinstance(ts, bool):
        raise PayloadError(f"{where}.ts must be a time, got {ts!r}")
    if isinstance(ts, int | float):
        if not math.isfinite(ts):
            raise PayloadError(f"{where}.ts is not finite")
        return int(round(ts * 1e6))
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts)
        except ValueError:
            raise PayloadError(f"{where}.ts {ts!r} is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise PayloadError(f"{where}.ts {ts!r} has no time zone (add Z or +09:00)")
        return to_us(parsed)
    raise PayloadError(f"{where}.ts must be a number of seconds or an ISO 8601 time")


def _integer(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where} must be an integer, got {value!r}")
    return value
