"""Live payloads: JSON and binary decoding, and the per-reading checks, each with its reason."""

from __future__ import annotations

import math

import pytest

from dure.domain.connectors import StreamMessage, StreamReading
from dure.errors import InvalidInput
from dure.ingest.streams.config import StreamPolicy, TopicRule, check_config
from dure.ingest.streams.payloads import (
    PayloadError,
    check_readings,
    decode,
    encode_binary,
    rule_for,
)

NOW_US = 1_795_400_000_000_000  # 2026-11-22
RULE = TopicRule(filter="plant/+/data", asset_level=1)
BINARY = TopicRule(filter="bin/press7", asset="press7", format="binary", channels=["force", "temp"])


def test_json_values_with_an_iso_time() -> None:
    m = decode(
        "plant/press7/data",
        b'{"id": "a1", "ts": "2026-11-22T10:00:00.5+09:00", '
        b'"values": {"force": 812.5, "temp": 61}}',
        RULE,
        NOW_US,
    )
    assert m.message_id == "a1"
    assert [(r.asset, r.channel, r.value) for r in m.readings] == [
        ("press7", "force", 812.5),
        ("press7", "temp", 61.0),
    ]
    assert m.readings[0].ts_us == 1_795_309_200_500_000


def test_json_reading_list_with_ms_and_us_times() -> None:
    m = decode(
        "plant/press7/data",
        b'{"id": 7, "readings": [{"channel": "force", "ts_ms": 1000, "value": 1.5},'
        b' {"channel": "temp", "ts_us": 2000, "value": 2}]}',
        RULE,
        NOW_US,
    )
    assert m.message_id == "7"
    assert [(r.ts_us, r.value) for r in m.readings] == [(1_000_000, 1.5), (2000, 2.0)]


def test_a_message_without_id_is_named_by_its_content() -> None:
    body = b'{"ts": 1795400000, "values": {"force": 1}}'
    first = decode("plant/press7/data", body, RULE, NOW_US)
    again = decode("plant/press7/data", body, RULE, NOW_US + 5)
    other = decode("plant/press8/data", body, RULE, NOW_US)
    assert first.message_id == again.message_id != other.message_id


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"id": "a"}', "neither values nor readings"),
        (b'{"values": {"force": 1}}', "no time"),
        (b'{"ts": "2026-11-22T10:00:00", "values": {"force": 1}}', "no time zone"),
        (b'{"ts": "yesterday", "values": {"force": 1}}', "not an ISO 8601 time"),
        (b'{"ts": 1, "values": {"force": "high"}}', "not a number"),
        (b'{"ts": 1, "values": {}}', "non-empty"),
        (b'{"ts_ms": 1.5, "values": {"force": 1}}', "must be an integer"),
        (b'{"id": true, "ts": 1, "values": {"force": 1}}', "id must be"),
        (b'{"readings": [{"channel": "force"}]}', r"readings\[0\] needs"),
    ],
)
def test_unreadable_json_says_why(payload: bytes, words: str) -> None:
    with pytest.raises(PayloadError, match=words):
        decode("plant/press7/data", payload, RULE, NOW_US)


def test_binary_round_trip() -> None:
    payload = encode_binary(42, NOW_US, [(0, 812.5), (1, -3.25)])
    assert len(payload) == 22 + 2 * 10
    m = decode("bin/press7", payload, BINARY, NOW_US)
    assert m.message_id == "42"
    assert [(r.channel, r.ts_us, r.value) for r in m.readings] == [
        ("force", NOW_US, 812.5),
        ("temp", NOW_US, -3.25),
    ]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"DU\x01", "shorter than its header"),
        (b"XX" + encode_binary(1, NOW_US, [(0, 1.0)])[2:], "does not start with DU"),
        (encode_binary(1, NOW_US, [(0, 1.0)])[:-1], "says 1 values"),
        (encode_binary(1, NOW_US, [(5, 1.0)]), "index 5 is beyond the 2 channels"),
    ],
)
def test_bad_binary_says_why(payload: bytes, words: str) -> None:
    with pytest.raises(PayloadError, match=words):
        decode("bin/press7", payload, BINARY, NOW_US)


def test_topic_rules_pick_the_first_match() -> None:
    rules = [BINARY, RULE]
    assert rule_for("bin/press7", rules) is BINARY
    assert rule_for("plant/x/data", rules) is RULE
    assert rule_for("other/topic", rules) is None


def test_checks_refuse_bad_readings_one_by_one_and_keep_the_rest() -> None:
    hour = 3600 * 1_000_000
    readings = (
        StreamReading("press7", "force", NOW_US, 1.0),
        StreamReading("press7", "temp", NOW_US, math.nan),
        StreamReading("press7", "speed", NOW_US, math.inf),
        StreamReading("press7", "force", NOW_US + hour, 2.0),
        StreamReading("press7", "force", 0, 3.0),
        StreamReading("press7", "force", NOW_US - hour, 4.0),  # old but plausible: kept
    )
    kept, refused = check_readings(
        StreamMessage("m1", NOW_US, readings, "t"), StreamPolicy(), NOW_US
    )
    assert [r.value for r in kept.readings] == [1.0, 4.0]
    reasons = [r.reason for r in refused]
    assert "press7/temp: value nan is not a finite number" in reasons
    assert "press7/speed: value inf is not a finite number" in reasons
    assert any("3600 s ahead of the receiver's clock" in r for r in reasons)
    assert any("is before 2000" in r for r in reasons)
    assert all(r.message_id == "m1" for r in refused)


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("mqtt", {"host": "h", "client_id": "c", "topics": []}, "config.topics"),
        (
            "mqtt",
            {
                "host": "h",
                "client_id": "c",
                "topics": [{"filter": "a/b", "format": "xml", "asset": "p"}],
            },
            "config.topics.0.format",
        ),
        ("mqtt", {"host": "h", "client_id": "c", "topics": [{"filter": "a/b"}]}, "config.topics.0"),
        (
            "mqtt",
            {"host": "h", "client_id": "c", "port": 0, "topics": [{"filter": "a", "asset": "p"}]},
            "config.port",
        ),
        (
            "opcua",
            {"endpoint": "http://x", "tags": [{"node_id": "i=1", "asset": "a", "channel": "c"}]},
            "config.endpoint",
        ),
        ("modbus", {}, "kind"),
    ],
)
def test_bad_configuration_names_the_field(kind: str, config: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as caught:
        check_config(kind, config)
    assert caught.value.field == field
