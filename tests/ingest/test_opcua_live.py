"""OPC UA connector against a real asyncua server on loopback."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from asyncua import Server, ua

from dure.ingest.streams.opcua import browse
from dure.ports import free_port
from dure.settings import Settings
from dure.store.session import Store
from tests.ingest.live import Running, wait_for
from tests.ingest.stream_world import press_shop


class PressServer:
    """An OPC UA server with a press object: Force and Temp (doubles), Mode (text)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}/press/"
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.written: list[float] = []
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        idx = await server.register_namespace("urn:dure:test:press")
        press = await server.nodes.objects.add_object(idx, "Press7")
        force = await press.add_variable(ua.NodeId("Press7.Force", idx), "Force", 0.0)
        temp = await press.add_variable(ua.NodeId("Press7.Temp", idx), "Temp", 20.0)
        mode = await press.add_variable(ua.NodeId("Press7.Mode", idx), "Mode", "auto")
        async with server:
            self.ready.set()
            step = 0
            while not self.stop.is_set():
                step += 1
                await asyncio.sleep(0.05)
                if step > 60:
                    continue
                value = 800.0 + step
                await force.write_value(value)
                self.written.append(value)
                await temp.write_value(20.0 + step / 10)
                await mode.write_value("manual" if step % 2 else "auto")

    def __enter__(self) -> PressServer:
        self.thread.start()
        assert self.ready.wait(30), "the OPC UA test server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)


def test_tags_become_channel_readings_and_unknown_tags_are_named(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    shop = press_shop(store)
    with PressServer() as server:
        variables = asyncio.run(browse(server.endpoint))
        paths = {v["path"]: v for v in variables}
        assert paths["Objects/Press7/Force"]["type"] == "Double"
        force_id = paths["Objects/Press7/Force"]["node_id"]

        def node(name: str) -> str:
            return str(paths[f"Objects/Press7/{name}"]["node_id"])

        config = {
            "endpoint": server.endpoint,
            "publishing_interval_ms": 20,
            "tags": [
                {"node_id": force_id, "asset": "press7", "channel": "force"},
                {"node_id": node("Temp"), "asset": "press7", "channel": "temp"},
                {"node_id": node("Mode"), "asset": "press7", "channel": "mode"},
                {"node_id": "ns=2;s=Press7.Nope", "asset": "press7", "channel": "nope"},
            ],
        }
        connector = shop.connector("press-opcua", "opcua", config)
        running = Running(store, settings, connector)
        try:
            wait_for(lambda: len(server.written) >= 60, 30, "the server's 60 writes")
            wait_for(lambda: len(shop.readings("force")) >= 55, 30, "the force readings")
        finally:
            running.stop()
    force = [v for _, v in shop.readings("force")]
    assert set(force) <= {0.0, *server.written}  # every stored value is one the server held
    assert force == sorted(force)  # in order
    assert len(shop.readings("temp")) >= 55
    assert shop.readings("mode") == []
    reasons = [r["reason"] for r in shop.rejects(connector.id)]
    assert any("unknown tag ns=2;s=Press7.Nope (press7/nope)" in r for r in reasons), reasons
    assert any("'manual' is not a number" in r for r in reasons)
