"""A load generator for `dure bench stream`: MQTT 3.1.1 QoS 1 publishes at a set pace.

It writes pre-encoded PUBLISH packets on a raw socket and counts PUBACKs, so the
benchmark measures Dure's ingestion rather than a Python MQTT client's publishing (paho
manages about 12,000 messages/s here). Every payload carries its send time, from which
the ingest measures end-to-end latency.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from typing import Any

from dure.ingest.streams.payloads import encode_binary

WINDOW = 20_000  # unacknowledged publishes at most (packet ids must stay unique)
CHUNK = 50  # messages encoded together (their send times differ by well under 2 ms)


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _connect_packet(client_id: str) -> bytes:
    body = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + _string(client_id)
    return b"\x10" + _remaining_length(len(body)) + body


def _publish_packet(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", packet_id) + payload
    return b"\x32" + _remaining_length(len(body)) + body  # PUBLISH, QoS 1


def publish(
    port: int,
    topic: str,
    count: int,
    rate: float,
    values_per_message: int,
    fmt: str,
    result: Any,
) -> None:
    """Publish ``count`` messages at ``rate`` per second (0: as fast as acks allow)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(_connect_packet(f"dure-bench-load-{int(time.time())}"))
    if sock.recv(4)[:1] != b"\x20":
        raise RuntimeError("the broker refused the load generator's connection")
    acked = 0
    window = threading.Semaphore(WINDOW)
    reader_done = threading.Event()

    def read_acks() -> None:
        nonlocal acked
        buffer = b""
        while acked < count:
            data = sock.recv(65536)
            if not data:
                break
            buffer += data
            usable = len(buffer) - len(buffer) % 4  # PUBACK: 0x40 0x02 id id
            n = usable // 4
            acked += n
            for _ in range(n):
                window.release()
            buffer = buffer[usable:]
        reader_done.set()

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    topic_bytes = topic.encode()
    wall_start = time.time()
    started = time.perf_counter()
    sent = 0
    while sent < count:
        if rate > 0:
            due = started + sent / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        n = min(CHUNK, count - sent)
        now_us = time.time_ns() // 1000
        packets = []
        for k in range(n):
            i = sent + k
            window.acquire()
            if fmt == "binary":
                values = [(c, float(i % 1000)) for c in range(values_per_message)]
                payload = encode_binary(i, now_us + k, values)
            else:
                named = {f"ch{c}": float(i % 1000) for c in range(values_per_message)}
                payload = json.dumps({"id": i, "ts_us": now_us + k, "values": named}).encode()
            packets.append(_publish_packet(topic_bytes, i % 65535 + 1, payload))
        sock.sendall(b"".join(packets))
        sent += n
    send_s = time.perf_counter() - started
    reader_done.wait(120)
    result.put({"sent": sent, "acked": acked, "send_s": send_s, "wall_start": wall_start})
    sock.close()
