"""A recording TCP relay: every byte between two installs passes through it and is kept."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field


@dataclass
class Tap:
    """What crossed one relay: the chunks in each direction, in order."""

    name: str
    to_target: list[bytes] = field(default_factory=list)
    to_client: list[bytes] = field(default_factory=list)
    connections: int = 0

    def outbound(self) -> bytes:
        """All bytes sent to the target (requests)."""
        return b"".join(self.to_target)

    def inbound(self) -> bytes:
        """All bytes the target sent back (responses)."""
        return b"".join(self.to_client)


class Wiretap:
    """Relays ``listen_port`` → ``target_port`` on loopback in a thread, recording both ways."""

    def __init__(self, name: str, listen_port: int, target_port: int) -> None:
        self.tap = Tap(name)
        self.listen_port = listen_port
        self.target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"tap-{name}")

    def start(self) -> Wiretap:
        """Start relaying; returns once the port listens."""
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop relaying."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.listen_port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tap.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pipe(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, log: list[bytes]
        ) -> None:
            try:
                while chunk := await src.read(65536):
                    log.append(chunk)
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(
            pipe(reader, up_writer, self.tap.to_target),
            pipe(up_reader, writer, self.tap.to_client),
        )
