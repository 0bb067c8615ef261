"""Every command docs/serve.md shows runs: the `torchless serve` line starts the server (on a
free port instead of 8080, model directories from $MINILM_DIR etc.), and each curl line in
its sh blocks succeeds with a 2xx. The deploy/ manifests parse and their probes name routes
the server answers."""
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from serve_util import EXE, ROOT, Server, call, free_port

DOC = ROOT / "docs" / "serve.md"


def sh_lines():
    """The command lines of docs/serve.md's ```sh blocks."""
    lines, inside = [], False
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```sh"
            continue
        if inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def env(minilm_dir, tmp_path_factory):
    from tiny_models import build_tiny_bert_task, build_tiny_gpt2_lm

    mk = lambda task, seed, **kw: build_tiny_bert_task(tmp_path_factory.mktemp(task), task, seed=seed, **kw)
    e = dict(os.environ, MINILM_DIR=str(minilm_dir), CLS_DIR=str(mk("seq-cls", 1)), QA_DIR=str(mk("qa", 3)),
             CE_DIR=str(mk("cross-encoder", 6, scale=3.0)),
             GPT_DIR=str(build_tiny_gpt2_lm(tmp_path_factory.mktemp("gpt"), seed=2, n_positions=320)), PATH=f"{EXE.parent}:{os.environ['PATH']}")
    return e


def test_every_documented_command_runs(env, tmp_path):
    lines = sh_lines()
    serve = [l for l in lines if l.startswith("torchless serve")]
    assert len(serve) == 1
    port = free_port()
    cmd = serve[0].replace("--port 8080", f"--port {port}")
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen(["bash", "-c", "exec " + cmd], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        class S:  # what serve_util.call needs
            pass
        S.port = port
        for _ in range(600):
            try:
                if call(S, "GET", "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        ran = 0
        for line in lines:
            if line.startswith("torchless serve"):
                continue
            line = line.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            own_code = " -w " in line  # the line prints the status itself
            if line.startswith("curl") and not own_code:
                line = line.replace("curl ", "curl -w '\\n%{http_code}' ", 1)
            r = subprocess.run(["bash", "-c", line], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, (line, r.stderr)
            if line.startswith("curl"):
                body, _, code = r.stdout.rpartition("\n") if not own_code else ("", "", r.stdout.strip())
                assert code.startswith("2"), (line, code, body[:300])
                if body.startswith("data:"):  # server-sent events: each a JSON object, or [DONE]
                    events = [l[5:].strip() for l in body.splitlines() if l.startswith("data:")]
                    assert events and all(e == "[DONE]" or isinstance(json.loads(e), dict) for e in events), line
                elif "/metrics" not in line and "-o /dev/null" not in line:
                    json.loads(body)
                ran += 1
        assert ran == sum(l.startswith("curl") for l in lines)
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        log.close()


def test_manifests_probe_served_routes(env, minilm_dir):
    docs = []
    for f in sorted((ROOT / "deploy").rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "InferenceService"} <= kinds
    paths = set()
    for d in docs:
        spec = d["spec"]
        containers = spec.get("template", {}).get("spec", {}).get("containers") or spec.get("predictor", {}).get("containers", [])
        for c in containers:
            assert c["args"][0] == "serve" and "--host" in c["args"]
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe in c:
                    paths.add(c[probe]["httpGet"]["path"])
    s = Server([("minilm", minilm_dir)])
    try:
        for p in paths:
            assert call(s, "GET", p)[0] == 200, p
    finally:
        assert s.stop() == 0
