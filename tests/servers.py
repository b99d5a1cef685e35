"""Local servers for tests and benchmarks: a free port, and a private `chroma run`.

Plain functions and a class (no pytest), so benchmarks/bench_load.py starts its Chroma server
exactly as the tests' `server` fixture (tests/conftest.py) does.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def chroma_executable() -> str | None:
    """The `chroma` CLI of this virtualenv (chromadb package), else the one on PATH."""
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


class ChromaServer:
    """`chroma run --path DATA/db --host 127.0.0.1 --port <free>`, its output in DATA/server.log.

    `start` returns once the server answers its heartbeat, or raises RuntimeError with the end
    of the log (and leaves no process behind)."""

    def __init__(self, data: Path, timeout_s: float = 60.0):
        self.data, self.timeout_s = data, timeout_s
        self.port = free_port()
        self.log = data / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    def start(self) -> tuple[str, int]:
        exe = chroma_executable()
        if exe is None:
            raise RuntimeError("the `chroma` executable (from the chromadb package) is not "
                               "installed")
        with open(self.log, "wb") as log_fh:
            self._proc = subprocess.Popen(
                [exe, "run", "--path", str(self.data / "db"), "--host", HOST, "--port",
                 str(self.port)],
                stdout=log_fh, stderr=subprocess.STDOUT,
            )
        try:
            self._wait_for_heartbeat()
        except RuntimeError:
            self.stop()
            raise
        return self.address

    def _wait_for_heartbeat(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chroma server exited early:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/v2/heartbeat",
                                            timeout=2):
                    return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"chroma server did not answer its heartbeat in "
                           f"{self.timeout_s:g} s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=15)
        self._proc = None
