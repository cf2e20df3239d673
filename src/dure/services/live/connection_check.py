"""Try a connector's configuration before saving it: can this install reach the broker or
server, and does it answer as one, within a few seconds?"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

from dure.domain.connectors import ConnectorKind
from dure.ingest.streams.config import MqttConfig, OpcuaConfig, check_config

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ConnectionCheck:
    """The answer of one try: ``ok``, or the ``reason`` in words and the config field
    it concerns."""

    ok: bool
    reason: str
    field: str | None
    seconds: float


def try_connection(
    kind: str, config: dict[str, Any], timeout_s: float = TIMEOUT_S
) -> ConnectionCheck:
    """Check ``config`` (InvalidInput naming the bad field), then connect once within
    ``timeout_s``; nothing is stored.

    The address is tried as the connector runner would reach it: brokers and OPC UA
    servers live on the factory's own network, so the outbound policy (which keeps calls
    to partners and webhooks off private addresses) does not apply, as it does not to the
    runner."""
    checked = check_config(kind, config)
    started = time.perf_counter()
    field = "config.host" if ConnectorKind(kind) is ConnectorKind.MQTT else "config.endpoint"
    if isinstance(checked, MqttConfig):
        reason = _try_mqtt(checked, timeout_s)
    else:
        reason = _try_opcua(checked, timeout_s)
    return ConnectionCheck(
        reason is None, reason or "connected", None if reason is None else field, _since(started)
    )


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _try_mqtt(config: MqttConfig, timeout_s: float) -> str | None:
    """None when the broker accepts an MQTT connection, else why not.

    A client id of its own (the configured one plus ``-test``) and a clean session, so
    a running connector with this configuration is neither kicked off nor disturbed.
    """
    import paho.mqtt.client as mqtt

    answered = threading.Event()
    outcome: dict[str, str | None] = {"reason": "the broker did not answer the connection"}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        outcome["reason"] = (
            f"the broker refused the connection: {reason_code}" if reason_code.is_failure else None
        )
        answered.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"{config.client_id}-test"[:180],
        protocol=mqtt.MQTTv5,
    )
    client.connect_timeout = timeout_s
    if config.username:
        client.username_pw_set(config.username, config.password)
    if config.tls:
        client.tls_set()
    client.on_connect = on_connect
    try:
        client.connect(config.host, config.port, keepalive=max(5, int(timeout_s) + 2))
    except ConnectionRefusedError:
        return f"nothing listens on {config.host}:{config.port} (connection refused)"
    except TimeoutError:
        return f"{config.host}:{config.port} did not answer within {timeout_s:g} s"
    except OSError as exc:
        return f"cannot reach {config.host}:{config.port}: {exc.strerror or exc}"
    except Exception as exc:  # noqa: BLE001 - TLS and protocol errors, reported in words
        return f"cannot connect to {config.host}:{config.port}: {exc}"
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            where = f"{config.host}:{config.port}"
            return f"{where} did not answer as an MQTT broker within {timeout_s:g} s"
        return outcome["reason"]
    finally:
        client.disconnect()
        client.loop_stop()


def _try_opcua(config: OpcuaConfig, timeout_s: float) -> str | None:
    """None when the OPC UA server opens a session, else why not."""
    from asyncua import Client

    async def connect() -> None:
        client = Client(config.endpoint, timeout=timeout_s)
        if config.username:
            client.set_user(config.username)
            client.set_password(config.password or "")
        await asyncio.wait_for(client.connect(), timeout_s)
        await client.disconnect()

    try:
        asyncio.run(connect())
    except TimeoutError:
        return f"{config.endpoint} did not answer within {timeout_s:g} s"
    except ConnectionRefusedError:
        return f"nothing listens at {config.endpoint} (connection refused)"
    except OSError as exc:
        return f"cannot reach {config.endpoint}: {exc.strerror or exc}"
    except Exception as exc:  # noqa: BLE001 - protocol and security errors, in words
        return f"the server at {config.endpoint} refused the session: {exc}"
    return None
