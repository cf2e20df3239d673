"""edge.toml: a good file reads back; each wrong field is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from dure.edge.config import FolderInput, MqttInput, load_config, parse_config
from dure.errors import InvalidInput

GOOD = """
home = "box"
keep_days = 7
max_spool_bytes = 1_000_000

[input]
folder = "/srv/camera"

[output]
mqtt_host = "127.0.0.1"
mqtt_port = 1884
mqtt_topic = "line1/verdicts"
opcua_endpoint = "opc.tcp://plc:4840"
opcua_reject_node = "ns=2;s=Reject"
"""


def test_a_good_file_reads_back_with_paths_relative_to_it(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(GOOD)
    config = load_config(path)
    assert config.home == tmp_path / "box"
    assert config.input == FolderInput(Path("/srv/camera"), 0.05)
    assert config.outputs.mqtt_port == 1884
    assert config.outputs.opcua_reject_node == "ns=2;s=Reject"
    assert config.keep_days == 7 and config.max_spool_bytes == 1_000_000


def test_an_mqtt_input_reads_back() -> None:
    config = parse_config(
        {"home": "/h", "input": {"mqtt_topic": "cam/+", "mqtt_port": 1885, "client_id": "e1"}}
    )
    assert config.input == MqttInput("127.0.0.1", 1885, "cam/+", "e1")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"input": {"folder": "x"}}, "home"),
        ({"home": "/h"}, "input"),
        ({"home": "/h", "input": {"folder": "x", "mqtt_topic": "t"}}, "input"),
        ({"home": "/h", "input": {"folder": ""}}, "input.folder"),
        ({"home": "/h", "input": {"folder": "x", "poll_s": "fast"}}, "input.poll_s"),
        ({"home": "/h", "input": {"mqtt_topic": "t", "mqtt_port": 70000}}, "input.mqtt_port"),
        ({"home": "/h", "input": {"folder": "x", "colour": 1}}, "input.colour"),
        (
            {"home": "/h", "input": {"folder": "x"}, "output": {"mqtt_topic": "v"}},
            "output.mqtt_host",
        ),
        (
            {"home": "/h", "input": {"folder": "x"}, "output": {"opcua_endpoint": "opc.tcp://p"}},
            "output.opcua_reject_node",
        ),
        (
            {"home": "/h", "input": {"folder": "x"},
             "output": {"opcua_endpoint": "http://p", "opcua_reject_node": "n"}},
            "output.opcua_endpoint",
        ),
        ({"home": "/h", "input": {"folder": "x"}, "keep_days": -1}, "keep_days"),
        ({"home": "/h", "input": {"folder": "x"}, "site_url": "ftp://x"}, "site_url"),
        ({"home": "/h", "input": {"folder": "x"}, "spool": 1}, "spool"),
        ({"home": "/h", "input": {"folder": "x"}, "keep_days": float("nan")}, "keep_days"),
        ({"home": "/h", "input": {"folder": "x"}, "max_spool_bytes": float("inf")},
         "max_spool_bytes"),
        ({"home": "/h", "input": {"folder": "x"}, "threads": float("inf")}, "threads"),
        ({"home": "/h", "input": {"folder": "x"}, "model_poll_s": float("nan")}, "model_poll_s"),
    ],
)  # fmt: skip
def test_each_wrong_field_is_named(raw: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as caught:
        parse_config(raw)
    assert caught.value.field == field


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("home = [unclosed")
    with pytest.raises(InvalidInput, match="not valid TOML") as caught:
        load_config(path)
    assert caught.value.field == "config"
