"""Hostile files, each answered by a clear error within bounded time and memory: every case
runs in a subprocess with a timeout and an address-space limit (RLIMIT_AS). Built at test
time from a tiny model: config.json / tokenizer.json / model.safetensors replaced by a
directory, a FIFO, a device, a symbolic link loop; deeply nested JSON. (Hostile
safetensors / .bin contents are covered by tests/c/test_safetensors.c and
tests/python/test_torch_bin.py; values and padding bounds by test_values.py; NaN weights by
test_numeric.py.)"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60
MEM_LIMIT = 4 << 30  # RLIMIT_AS of each case's process (the libraries map ~1-2 GB at start)

RUNNER = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({mem}, {mem}))
sys.path.insert(0, {py!r})
from torchless import Model, TorchlessError
from torchless.tokenizer import Tokenizer
kind, path = sys.argv[1], sys.argv[2]
try:
    if kind == "model":
        Model(path, load_tokenizer=False)
    elif kind == "model+tok":
        Model(path)
    else:
        Tokenizer.from_file(path)
except (TorchlessError, ValueError, OSError) as e:
    print("ERROR", e)
    sys.exit(3)
print("LOADED")
"""


def _run(kind, path):
    code = RUNNER.format(mem=MEM_LIMIT, py=str(ROOT / "python"))
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code, kind, str(path)], capture_output=True, text=True,
                       timeout=TIMEOUT_S, env=env)
    return r.returncode, r.stdout + r.stderr


def _replace(p: Path, how: str):
    """Replaces file p by a directory, FIFO, device symlink or a symlink loop."""
    p.unlink()
    if how == "directory":
        p.mkdir()
    elif how == "fifo":
        os.mkfifo(p)
    elif how == "device":
        os.symlink("/dev/zero", p)
    elif how == "symlink_loop":
        os.symlink(p.name + ".b", p)
        os.symlink(p.name, p.parent / (p.name + ".b"))
    return {"directory": "a directory", "fifo": "FIFO", "device": "character device",
            "symlink_loop": "symbolic link loop"}[how]


@pytest.fixture(scope="module")
def tiny(tiny_models):
    return tiny_models("hostile_tiny", layers=1, hidden=32, heads=2, seed=8)


@pytest.mark.parametrize("how", ["directory", "fifo", "device", "symlink_loop"])
@pytest.mark.parametrize("target", ["config.json", "model.safetensors", "tokenizer.json"])
def test_special_files_named_never_block(tmp_path, tiny, target, how):
    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    want = _replace(d / target, how)
    kind = "tok" if target == "tokenizer.json" else "model"
    rc, out = _run(kind, d)  # the model directory: the loader finds the hostile entry
    assert rc == 3, out
    assert target in out and want in out, out


def test_deeply_nested_json(tmp_path, tiny):
    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    (d / "config.json").write_text("[" * 200000 + "]" * 200000)
    rc, out = _run("model", d)
    assert rc == 3 and "config.json" in out and "invalid JSON" in out, out
    cfg = json.dumps(json.loads((tiny / "config.json").read_text()))
    (d / "config.json").write_text(cfg[:-1] + ', "extra": ' + '{"x": ' * 5000 + "0" + "}" * 5000 + "}")
    rc, out = _run("model", d)
    assert rc == 3 and "config.json" in out, out


def test_truncated_config_and_tokenizer(tmp_path, tiny):
    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    text = (d / "tokenizer.json").read_text()
    (d / "tokenizer.json").write_text(text[: len(text) // 2])
    rc, out = _run("tok", d)
    assert rc == 3 and "tokenizer.json" in out and "invalid JSON" in out, out
    text = (d / "config.json").read_text()
    (d / "config.json").write_text(text[: len(text) // 2])
    rc, out = _run("model", d)
    assert rc == 3 and "config.json" in out and "invalid JSON" in out, out
