"""Helpers of the server tests: start `torchless serve` on a free loopback port (waiting
until it is ready), stop it (SIGTERM, then SIGKILL), and make plain HTTP calls."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXE = ROOT / "build" / "torchless"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `torchless serve`: .url, .port, .proc, .log(); stop() in a finally."""

    def __init__(self, models, *args, threads=2, ready_timeout=120.0):
        """models: [(name, path[:task])]; args: more flags; threads 0: the server's default."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [str(EXE), "serve", "--port", str(self.port)] + (["--threads", str(threads)] if threads else [])
        for name, path in models:
            cmd += ["--model", f"{name}={path}"]
        cmd += [str(a) for a in args]
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"tl_serve_{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log()}")
            try:
                if call(self, "GET", "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError(f"server not ready in {ready_timeout}s: {self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout=30.0) -> int:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def call(server, method, path, body=None, headers=None, timeout=60):
    """One request; body: bytes, str or a JSON-able value. Returns (status, headers, bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    h = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def post_json(server, path, body, headers=None):
    """POST a JSON body; returns (status, parsed JSON or None)."""
    status, _, data = call(server, "POST", path, body, headers)
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, None
