"""`torchless serve` limits, errors and lifecycle on loopback: 413 / 422 / 400 / 404 / 401 /
429 with JSON bodies that say what is wrong, slow clients cut off by the connection timeout,
256 concurrent requests of mixed lengths equal to one at a time, SIGTERM finishing in-flight
requests and exiting 0. The real all-MiniLM-L6-v2 serves embeddings."""
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serve_util import Server, call, post_json

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def server(minilm_dir):
    s = Server([("minilm", minilm_dir)], "--payload-limit", 20000, "--max-client-batch-size", 8,
               "--timeout", 2)
    try:
        yield s
    finally:
        assert s.stop() == 0


def test_client_errors_are_4xx_with_a_message(server):
    cases = [
        (b"{not json", 400, "not valid JSON"),
        (b'{"inputs": "ok \xff\xfe"}', 400, "UTF-8"),
        (b'{"inputs": "a\\u0000b"}', 400, "NUL"),
        (b'{"inputs": 5}', 422, "string or a list"),
        (b'{"inputs": ["a", 3]}', 422, "inputs[1]"),
        (b'{"inputs": []}', 400, "empty"),
        (b'{"inputs": "a", "normalize": "yes"}', 422, "normalize"),
        (b'{"inputs": "a", "truncation_direction": "up"}', 422, "truncation_direction"),
        (b'[1, 2]', 422, "JSON object"),
        (b'', 400, "empty"),
        (json.dumps({"inputs": ["a"] * 9}).encode(), 422, "batch size 9 > maximum allowed batch size 8"),
        (json.dumps({"inputs": "x" * 30000}).encode(), 413, "payload limit"),
        (json.dumps({"inputs": "word " * 600}).encode(), 422, "tokens"),
    ]
    for body, status, words in cases:
        got, headers, data = call(server, "POST", "/embed", body, {"Content-Type": "application/json"})
        out = json.loads(data)
        assert got == status, (body[:40], got, out)
        assert words.lower() in out["error"].lower(), (body[:40], out)
        assert out["error_type"] in ("Validation", "Empty")
    got, _, data = call(server, "GET", "/nope")
    assert got == 404 and "no route" in json.loads(data)["error"]
    got, _, data = call(server, "POST", "/v2/models/nope/infer", {"inputs": []})
    assert got == 404 and "nope" in json.loads(data)["error"]
    got, _, data = call(server, "POST", "/predictions/minilm", b"ok \xc3")
    assert got == 400 and json.loads(data)["code"] == 400
    assert call(server, "GET", "/health")[0] == 200  # still up


def test_auto_truncate_and_request_truncate(minilm_dir):
    import torchless

    s = Server([("minilm", minilm_dir)], "--auto-truncate")
    try:
        status, out = post_json(s, "/embed", {"inputs": ["word " * 600]})
        assert status == 200
        want = torchless.Model(str(minilm_dir)).embed(["word " * 600])
        assert np.abs(np.asarray(out, np.float32) - want).max() <= 1e-5
        status, out = post_json(s, "/embed", {"inputs": ["word " * 600], "truncate": False})
        assert status == 422
    finally:
        assert s.stop() == 0


def test_slow_clients_are_cut_off(server):
    # a body that trickles in, and a client that sends half a request and waits: the server
    # closes both after --timeout 2 s of silence and keeps serving meanwhile
    socks = []
    for part in (b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inp",
                 b"GET /health HTTP/1.1\r\nHost: x\r\n"):
        c = socket.create_connection(("127.0.0.1", server.port))
        c.sendall(part)
        socks.append(c)
    assert post_json(server, "/embed", {"inputs": "still served"})[0] == 200
    time.sleep(3.5)
    for c in socks:
        c.settimeout(2)
        try:
            data = c.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert data == b""  # closed by the server
        c.close()


def test_api_key(minilm_dir):
    s = Server([("minilm", minilm_dir)], "--api-key", KEY)
    try:
        assert call(s, "GET", "/health")[0] == 200  # health needs no key
        assert call(s, "GET", "/v2/health/ready")[0] == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            status, out = post_json(s, "/embed", {"inputs": "a"}, headers)
            assert status == 401 and "API key" in out["error"]
        assert call(s, "GET", "/metrics")[0] == 401
        assert post_json(s, "/embed", {"inputs": "a"}, {"Authorization": "Bearer " + KEY})[0] == 200
    finally:
        assert s.stop() == 0


def test_overload_is_429(minilm_dir):
    s = Server([("minilm", minilm_dir)], "--max-concurrent-requests", 1, "--max-batch-delay-ms", 300)
    try:
        texts = ["word " * 200] * 4
        with ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(lambda _: post_json(s, "/embed", {"inputs": texts})[0], range(8)))
        assert 200 in codes and 429 in codes and set(codes) <= {200, 429}
        status, out = post_json(s, "/embed", {"inputs": "a"})
        assert status == 200
    finally:
        assert s.stop() == 0


def test_256_concurrent_requests_equal_one_at_a_time(server):
    rng = np.random.default_rng(0)
    words = "the quick brown fox jumps over a lazy dog in paris while héllo wörld".split()
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 120)))) for _ in range(256)]
    serial = [post_json(server, "/embed", {"inputs": t})[1][0] for t in texts]
    with ThreadPoolExecutor(64) as ex:
        got = list(ex.map(lambda t: post_json(server, "/embed", {"inputs": t}), texts))
    assert all(st == 200 for st, _ in got)
    diff = max(np.abs(np.asarray(o[0], np.float32) - np.asarray(w, np.float32)).max() for (_, o), w in zip(got, serial))
    assert diff <= 1e-5


def test_sigterm_finishes_in_flight_requests(minilm_dir):
    s = Server([("minilm", minilm_dir)], "--max-batch-delay-ms", 500)
    results = []

    def one():
        results.append(post_json(s, "/embed", {"inputs": ["hello world"] * 4})[0])

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # the requests wait in the engine's 500 ms batch delay
    code = s.stop()
    for t in threads:
        t.join(10)
    assert code == 0
    assert results == [200] * 6
    assert "SIGTERM: finishing in-flight requests" in s.log_path.read_text()


def test_info_reports_the_batching_flags(minilm_dir):
    s = Server([("minilm", minilm_dir)], "--max-batch-tokens", 1234, "--max-batch-requests", 7,
               "--max-batch-delay-ms", 3)
    try:
        status, _, body = call(s, "GET", "/info")
        assert status == 200
        info = json.loads(body)
        assert info["max_batch_tokens"] == 1234 and info["max_batch_requests"] == 7
        status, _, body = call(s, "GET", "/models/minilm")
        assert status == 200
        desc = json.loads(body)
        d = desc[0] if isinstance(desc, list) else desc
        assert d["batchSize"] == 7 and d["maxBatchDelay"] == 3
    finally:
        assert s.stop() == 0
