"""Verdict outputs: JSON at QoS 1 on a real Mosquitto, and a real OPC UA server's reject
and score nodes written by the gate (which reconnects when the PLC comes back)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from asyncua import Server, ua

from dure.bench.mosquitto import Mosquitto
from dure.edge.outputs import MqttVerdicts, OpcuaGate
from dure.ports import free_port


def verdict(i: int, ng: bool) -> dict[str, Any]:
    return {"rid": f"{i:032x}", "serial": f"s{i}", "verdict": "ng" if ng else "ok",
            "score": 0.1 * i, "threshold": 0.5, "defect_type": "dent" if ng else None,
            "latency_ms": 3.0, "package_id": "p1"}  # fmt: skip


def wait(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_verdicts_arrive_as_json_on_the_topic(mosquitto: Mosquitto) -> None:
    received: list[dict[str, Any]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: received.append(json.loads(m.payload))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("line1/verdicts", qos=1)
    sub.loop_start()
    out = MqttVerdicts("127.0.0.1", mosquitto.port, "line1/verdicts", "edge-out-test")
    out.start()
    try:
        time.sleep(0.3)
        for i in range(5):
            out.send(verdict(i, ng=i % 2 == 1))
        assert wait(lambda: len(received) == 5, 10), received
        assert received[1] == verdict(1, ng=True)
    finally:
        out.stop()
        sub.loop_stop()
        sub.disconnect()


class Plc:
    """An OPC UA server with a writable Reject (Boolean) and Score (Double)."""

    def __init__(self, port: int) -> None:
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/plc/"
        self.ready, self.stop = threading.Event(), threading.Event()
        self.values: dict[str, Any] = {}
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        idx = await server.register_namespace("urn:dure:test:plc")
        gate = await server.nodes.objects.add_object(idx, "Gate")
        reject = await gate.add_variable(ua.NodeId("Gate.Reject", idx), "Reject", False)
        score = await gate.add_variable(ua.NodeId("Gate.Score", idx), "Score", 0.0)
        await reject.set_writable()
        await score.set_writable()
        self.reject_node, self.score_node = reject.nodeid.to_string(), score.nodeid.to_string()
        async with server:
            self.ready.set()
            while not self.stop.is_set():
                self.values = {
                    "reject": await reject.read_value(),
                    "score": await score.read_value(),
                }
                await asyncio.sleep(0.02)

    def __enter__(self) -> Plc:
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)


def test_the_plc_gate_writes_reject_and_score_and_comes_back_after_an_outage() -> None:
    port = free_port()
    with Plc(port) as plc:
        gate = OpcuaGate(plc.endpoint, plc.reject_node, plc.score_node, timeout_s=2)
        gate.start()
        try:
            t0 = time.perf_counter()
            gate.send(verdict(7, ng=True))
            assert wait(lambda: plc.values.get("reject") is True, 15), plc.values
            assert abs(plc.values["score"] - 0.7) < 1e-9
            gate.send(verdict(3, ng=False))
            assert wait(lambda: plc.values.get("reject") is False, 10)
            assert time.perf_counter() - t0 < 30
        finally:
            reject_node, score_node = plc.reject_node, plc.score_node
    # the PLC is away: sends never block, and are written once it is back
    t0 = time.perf_counter()
    gate.send(verdict(9, ng=True))
    assert time.perf_counter() - t0 < 0.1
    with Plc(port) as plc:
        assert (plc.reject_node, plc.score_node) == (reject_node, score_node)
        try:
            assert wait(lambda: plc.values.get("reject") is True, 40), gate.last_error
            assert abs(plc.values["score"] - 0.9) < 1e-9
        finally:
            gate.stop()


def test_the_plc_gate_rejects_a_part_the_box_could_not_judge() -> None:
    with Plc(free_port()) as plc:
        gate = OpcuaGate(plc.endpoint, plc.reject_node, plc.score_node, timeout_s=2)
        gate.start()
        try:
            gate.send(verdict(3, ng=False))
            assert wait(lambda: plc.values.get("reject") is False and plc.values["score"], 15)
            error = {**verdict(4, ng=False), "verdict": "error", "score": None, "reason": "x"}
            gate.send(error)
            assert wait(lambda: plc.values.get("reject") is True, 15), gate.last_error
            assert abs(plc.values["score"] - 0.3) < 1e-9  # no score: the node is left alone
        finally:
            gate.stop()
