"""A throw-away Mosquitto on loopback: the demo feed's broker (when no other is
configured), the stream benchmark's and the live tests'."""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dure.ports import free_port


def mosquitto_binary() -> str | None:
    """Where Debian's mosquitto is installed (it lives in /usr/sbin), or None."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/bin")


class Mosquitto:
    """A Mosquitto broker on loopback with persistence and no queue limit.

    ``max_queued_messages 0`` matters: Mosquitto's default drops messages beyond 1,000
    queued for an absent persistent client, which would lose data while Dure restarts.
    """

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        binary = mosquitto_binary()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed: apt-get install mosquitto")
        self.binary = binary
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            # as root, stay root: Mosquitto's own user could not write into the test folder
            "user root\n"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "mosquitto.log"
        self.log_from = 0  # the log's size when this broker started: older lines are not ours

    def start(self, die_with_parent: bool = False) -> None:
        """Start and wait until it accepts connections. With ``die_with_parent`` (Linux) the
        broker is sent SIGTERM when the thread that started it dies, even by ``kill -9``:
        a server's own broker does not outlive it."""
        self.log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [self.binary, "-c", str(self.conf)]
        setpriv = shutil.which("setpriv")  # util-linux: sets the signal, then execs
        in_child = None
        if die_with_parent and setpriv is not None:
            command = [setpriv, "--pdeathsig", "TERM", *command]
        elif die_with_parent:
            # no setpriv: Popen has no other way to ask for a parent-death signal
            # (process_group and start_new_session do not). preexec_fn is unsafe with
            # threads when it takes locks or runs much Python; ours only calls prctl.
            in_child = _term_with_parent
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=log,
                preexec_fn=in_child,  # noqa: PLW1509
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break  # it exited: the log says why (a port in use, a bad config)
                time.sleep(0.05)
        raise RuntimeError(
            f"mosquitto did not start on port {self.port}: {self._own_log()[-500:]!r} "
            f"(see {self.log_path})"
        )

    def _own_log(self) -> str:
        """What this broker wrote to the log since it started."""
        try:
            with open(self.log_path, "rb") as file:
                file.seek(self.log_from)
                return file.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop gracefully (it writes its persistence file)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None
        log = self._own_log()
        if "Error saving" in log:
            raise RuntimeError(f"mosquitto could not save its queue: {log[-500:]}")


def _term_with_parent() -> None:
    """In the child before exec: ask Linux for SIGTERM when the parent dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1
