"""Past one machine: two `torchless serve` replicas behind HAProxy (Debian's) on loopback.
Both serve; one is stopped with SIGTERM under load: it stops accepting and drains, HAProxy
retries refused connections on the other replica, and no request is lost."""
import http.client
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from serve_util import Server, call, free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def config(front, backs):
    servers = "\n".join(f"    server s{i} 127.0.0.1:{p} check inter 200ms fall 1 rise 2" for i, p in enumerate(backs))
    return f"""global
    maxconn 256
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 5
    option redispatch 1
    option http-server-close
    retry-on conn-failure empty-response response-timeout
frontend f
    bind 127.0.0.1:{front}
    default_backend b
backend b
    balance roundrobin
    option httpchk GET /health
{servers}
"""


@pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy not installed (scripts/setup.sh installs it)")
def test_two_replicas_one_stopped_under_load(minilm_dir, tmp_path):
    a = Server([("minilm", minilm_dir)], threads=1)
    b = Server([("minilm", minilm_dir)], threads=1)
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(config(front, [a.port, b.port]))
    hap = subprocess.Popen([HAPROXY, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        class F:
            port = front
        for _ in range(100):
            try:
                if call(F, "GET", "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        time.sleep(0.6)  # both replicas pass their health checks
        ok, failed, stop = [0], [], threading.Event()
        lock = threading.Lock()

        def client(k):
            while not stop.is_set():
                conn = http.client.HTTPConnection("127.0.0.1", front, timeout=30)
                try:
                    conn.request("POST", "/embed", body=json.dumps({"inputs": f"request {k} hello world"}),
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    with lock:
                        if r.status == 200:
                            ok[0] += 1
                        else:
                            failed.append(r.status)
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        failed.append(repr(e))
                finally:
                    conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        assert a.stop() == 0  # SIGTERM under load: drains and exits 0
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(30)
        assert failed == []
        assert ok[0] > 20
        served = [s.log_path.read_text().count("POST /embed 200") for s in (a, b)]
        assert all(n > 0 for n in served), served  # both replicas served
    finally:
        hap.terminate()
        hap.wait(10)
        a.stop()
        b.stop()
