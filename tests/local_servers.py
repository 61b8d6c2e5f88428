"""Servers the tests start on this machine: a free port on loopback, waiting for one to
answer, and the processes one has started."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, seconds: float = 60.0, what: str = "") -> None:
    """Ask `check` until it says yes (an OSError counts as no); fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def children(pid: int) -> dict[int, str]:
    """The processes `pid` has started, by process id, with their command lines."""
    listed = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)],
                            capture_output=True, text=True).stdout
    return {int(line.split(None, 1)[0]): line.split(None, 1)[1]
            for line in listed.splitlines() if line.strip()}


def running(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie waiting to be reaped does not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def serve(env: dict[str, str], cwd, workers: int) -> tuple[subprocess.Popen, int]:
    """`tiltak serve` on a free port with `env` (its output kept), once it answers and
    all its web workers are up; stopped again if it does not get there."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tiltak.cli", "serve", "--port",
                               str(port), "--workers", str(workers)], env=env, cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/health",
                                                  timeout=2).status == 200,
                   what="the server answers")
        # a loaded machine boots the last web worker later
        wait_until(lambda: " ".join(children(server.pid).values()).count("tiltak.cli serve")
                   >= workers, what="every web worker is up")
    except BaseException:
        server.kill()
        server.communicate()
        raise
    return server, port
