"""Abuse: 10,000+ malformed requests (bad JSON, wrong types, oversized bodies, stalled
bodies, invalid UTF-8, NUL escapes, empty inputs, 10,000-item batches, unknown routes,
missing or wrong API key) interleaved with valid ones against one `torchless serve`: the
server stays up, every valid request succeeds (on a fresh connection), no malformed one gets
a 5xx, and resident memory after warm-up grows by less than 10%."""
import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serve_util import Server, call

KEY = "abuse-key"
AUTH = {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"}
N_BAD = 10_000


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


# (method, path, body, headers): each answered with a 4xx
BAD = [
    ("POST", "/embed", b"{not json", AUTH),
    ("POST", "/embed", b'{"inputs": 12}', AUTH),
    ("POST", "/embed", b'{"inputs": [1, 2]}', AUTH),
    ("POST", "/embed", b'{"inputs": []}', AUTH),
    ("POST", "/embed", b'{"inputs": "a\\u0000"}', AUTH),
    ("POST", "/embed", b'{"inputs": "\xff\xfe bad"}', AUTH),
    ("POST", "/embed", b"", AUTH),
    ("POST", "/embed", json.dumps({"inputs": ["a"] * 10_000}).encode(), AUTH),
    ("POST", "/embed", b'{"inputs": "' + b"x" * 70_000 + b'"}', AUTH),
    ("POST", "/embed", b'{"inputs": "a"}', {}),
    ("POST", "/embed", b'{"inputs": "a"}', {"Authorization": "Bearer nope"}),
    ("GET", "/no/such/route", None, AUTH),
    ("POST", "/v1/embeddings", b'{"model": "zzz", "input": "a"}', AUTH),
    ("POST", "/v1/embeddings", b'{"model": "minilm", "input": {"x": 1}}', AUTH),
    ("POST", "/v2/models/minilm/infer", b'{"inputs": [{"name": "t", "datatype": "FP32", "shape": [1], "data": [1]}]}', AUTH),
    ("POST", "/predictions/minilm", b"\xc3\x28", {"Authorization": "Bearer " + KEY}),
    ("POST", "/rerank", b'{"query": 1}', AUTH),
    ("POST", "/decode", b'{"ids": [-5]}', AUTH),
    ("POST", "/tokenize", b'{"inputs": {"a": 1}}', AUTH),
    ("DELETE", "/embed", None, AUTH),
]


class Client:
    """A keep-alive connection that reconnects after the server closes it."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, body, headers):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status
            except (http.client.HTTPException, ConnectionError, BrokenPipeError):
                self.conn.close()
                self.conn = None
        raise AssertionError(f"{method} {path}: connection failed 3 times")


def stall(port, n):
    """n connections that send half a body and go silent (closed by --timeout)."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inputs\": \"")
        socks.append(s)
    return socks


def test_abuse(minilm_dir):
    s = Server([("minilm", minilm_dir)], "--api-key", KEY, "--payload-limit", 65536, "--timeout", 2,
               "--max-client-batch-size", 64)
    try:
        valid = {"inputs": ["hello world", "the quick brown fox " * 5]}
        status, _, body = call(s, "POST", "/embed", valid, AUTH)
        assert status == 200
        want = np.asarray(json.loads(body), np.float32)
        # warm-up: every malformed kind a few times, then measure
        c = Client(s.port)
        for k in range(len(BAD) * 5):
            c.request(*BAD[k % len(BAD)])
        rss0 = rss_kb(s.proc.pid)

        def worker(w):
            cl = Client(s.port)
            codes, valid_ok = [], 0
            for k in range(w, N_BAD, 4):
                codes.append(cl.request(*BAD[k % len(BAD)]))
                if k % 25 == 0:  # a valid request on a fresh connection, between bad ones
                    st, _, b = call(s, "POST", "/embed", valid, AUTH)
                    assert st == 200
                    assert np.abs(np.asarray(json.loads(b), np.float32) - want).max() <= 1e-5
                    valid_ok += 1
            return codes, valid_ok

        socks = stall(s.port, 40)
        t0 = time.time()
        with ThreadPoolExecutor(4) as ex:
            results = list(ex.map(worker, range(4)))
        codes = [c for r in results for c in r[0]]
        assert len(codes) == N_BAD
        assert all(400 <= c < 500 for c in codes), sorted(set(codes))
        assert {400, 401, 404, 405, 413, 422} <= set(codes)
        assert sum(r[1] for r in results) == N_BAD // 25
        time.sleep(2.5)  # the stalled connections time out
        for sk in socks:
            sk.close()
        assert call(s, "GET", "/health")[0] == 200
        rss1 = rss_kb(s.proc.pid)
        print(f"abuse: {N_BAD} bad + {N_BAD // 25} valid in {time.time() - t0:.1f} s, RSS {rss0} -> {rss1} kB")
        assert rss1 < rss0 * 1.10, (rss0, rss1)
    finally:
        assert s.stop() == 0
