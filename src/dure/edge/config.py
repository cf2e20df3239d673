"""`edge.toml`: what one edge box reads, where its verdicts go, and how much it may keep.

```toml
home = "/var/lib/dure-edge"        # enrolment, keys, spool, models (made by `dure edge enrol`)
keep_days = 30                     # sent, refused and set-aside results kept this long
max_spool_bytes = 2_000_000_000    # results waiting for the site; beyond it input stops
model_poll_s = 30                  # how often the site is asked for a newer model

[input]                            # one of:
folder = "/srv/camera/inbox"       #   a folder the camera writes into (tmp name + rename)
# mqtt_host = "127.0.0.1"          #   or an MQTT topic carrying image files (QoS 1)
# mqtt_port = 1883
# mqtt_topic = "line1/camera/+"
# client_id = "edge-line1"

[output]
mqtt_host = "127.0.0.1"            # the verdict of every image, JSON, QoS 1
mqtt_port = 1883
mqtt_topic = "line1/verdicts"
opcua_endpoint = "opc.tcp://plc:4840"   # optional: a PLC reject gate
opcua_reject_node = "ns=2;s=Reject"     # Boolean, true for a defect
opcua_score_node = "ns=2;s=Score"       # optional Double
```
Every error names the field it is about (``input.folder``, ``output.mqtt_port``...).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dure.errors import InvalidInput


@dataclass(frozen=True)
class FolderInput:
    """Images arrive as files in ``folder``."""

    folder: Path
    poll_s: float = 0.05


@dataclass(frozen=True)
class MqttInput:
    """Images arrive as MQTT messages (the payload is the image file)."""

    host: str
    port: int
    topic: str
    client_id: str


@dataclass(frozen=True)
class Outputs:
    """Where verdicts go; every part optional."""

    mqtt_host: str | None = None
    mqtt_port: int = 1883
    mqtt_topic: str | None = None
    opcua_endpoint: str | None = None
    opcua_reject_node: str | None = None
    opcua_score_node: str | None = None


@dataclass(frozen=True)
class EdgeConfig:
    """The whole configuration of one edge box."""

    home: Path
    input: FolderInput | MqttInput
    outputs: Outputs
    site_url: str | None = None
    token_file: Path | None = None
    keep_days: float = 30.0
    max_spool_bytes: int = 2_000_000_000
    model_poll_s: float = 30.0
    status_every_s: float = 5.0
    threads: int = 1


def load_config(path: Path) -> EdgeConfig:
    """Read and check an ``edge.toml``; InvalidInput names the first wrong field."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput("config", f"{path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("config", f"{path} is not valid TOML ({exc})") from None
    return parse_config(raw, base=Path(path).resolve().parent)


_TOP = {
    "home", "input", "output", "site_url", "token_file", "keep_days", "max_spool_bytes",
    "model_poll_s", "status_every_s", "threads",
}  # fmt: skip
_INPUT = {"folder", "poll_s", "mqtt_host", "mqtt_port", "mqtt_topic", "client_id"}
_OUTPUT = {
    "mqtt_host", "mqtt_port", "mqtt_topic", "opcua_endpoint", "opcua_reject_node",
    "opcua_score_node",
}  # fmt: skip


def parse_config(raw: dict[str, Any], base: Path = Path(".")) -> EdgeConfig:
    """Check a parsed TOML table (relative paths are taken from ``base``)."""
    _unknown(raw, _TOP, "")
    home = _path(raw, "home", base, required=True)
    assert home is not None
    inp = _table(raw, "input")
    _unknown(inp, _INPUT, "input.")
    source: FolderInput | MqttInput
    if "folder" in inp and "mqtt_topic" in inp:
        raise InvalidInput("input", "give either folder or mqtt_topic, not both")
    if "folder" in inp:
        folder = _path(inp, "folder", base, field="input.folder", required=True)
        assert folder is not None
        source = FolderInput(folder, _number(inp, "poll_s", 0.05, "input.poll_s", low=0.001))
    elif "mqtt_topic" in inp:
        source = MqttInput(
            host=_text(inp, "mqtt_host", "input.mqtt_host", default="127.0.0.1"),
            port=_port(inp, "mqtt_port", "input.mqtt_port"),
            topic=_text(inp, "mqtt_topic", "input.mqtt_topic"),
            client_id=_text(inp, "client_id", "input.client_id", default="dure-edge"),
        )
    else:
        raise InvalidInput("input", "give input.folder (a camera folder) or input.mqtt_topic")
    out = _table(raw, "output")
    _unknown(out, _OUTPUT, "output.")
    outputs = Outputs(
        mqtt_host=_text(out, "mqtt_host", "output.mqtt_host", default=None),
        mqtt_port=_port(out, "mqtt_port", "output.mqtt_port"),
        mqtt_topic=_text(out, "mqtt_topic", "output.mqtt_topic", default=None),
        opcua_endpoint=_text(out, "opcua_endpoint", "output.opcua_endpoint", default=None),
        opcua_reject_node=_text(out, "opcua_reject_node", "output.opcua_reject_node", None),
        opcua_score_node=_text(out, "opcua_score_node", "output.opcua_score_node", None),
    )
    if outputs.mqtt_topic and not outputs.mqtt_host:
        raise InvalidInput("output.mqtt_host", "is needed with output.mqtt_topic")
    if outputs.opcua_endpoint and not outputs.opcua_reject_node:
        raise InvalidInput("output.opcua_reject_node", "is needed with output.opcua_endpoint")
    if outputs.opcua_endpoint and not outputs.opcua_endpoint.startswith("opc.tcp://"):
        raise InvalidInput("output.opcua_endpoint", "must start with opc.tcp://")
    site_url = _text(raw, "site_url", "site_url", default=None)
    if site_url and not site_url.startswith(("http://", "https://")):
        raise InvalidInput("site_url", "must start with http:// or https://")
    return EdgeConfig(
        home=home,
        input=source,
        outputs=outputs,
        site_url=site_url.rstrip("/") if site_url else None,
        token_file=_path(raw, "token_file", base),
        keep_days=_number(raw, "keep_days", 30.0, "keep_days", low=0.0),
        max_spool_bytes=int(_number(raw, "max_spool_bytes", 2e9, "max_spool_bytes", low=1e5)),
        model_poll_s=_number(raw, "model_poll_s", 30.0, "model_poll_s", low=0.05),
        status_every_s=_number(raw, "status_every_s", 5.0, "status_every_s", low=0.05),
        threads=int(_number(raw, "threads", 1, "threads", low=1)),
    )


def _unknown(table: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in table:
        if key not in known:
            raise InvalidInput(f"{prefix}{key}", f"unknown setting (known: {sorted(known)})")


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise InvalidInput(key, "must be a table ([" + key + "])")
    return value


def _text(table: dict[str, Any], key: str, field: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise InvalidInput(field, "is required")
        return default
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must be a non-empty string")
    return value.strip()


def _path(
    table: dict[str, Any], key: str, base: Path, field: str | None = None, required: bool = False
) -> Path | None:
    value = _text(table, key, field or key, default=... if required else None)
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _number(table: dict[str, Any], key: str, default: float, field: str, low: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"must be a number, not {value!r}")
    if not math.isfinite(value):
        raise InvalidInput(field, f"must be a finite number, not {value!r}")
    if value < low:
        raise InvalidInput(field, f"must be at least {low}")
    return float(value)


def _port(table: dict[str, Any], key: str, field: str) -> int:
    value = table.get(key, 1883)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidInput(field, f"must be a port number 1-65535, not {value!r}")
    return value
