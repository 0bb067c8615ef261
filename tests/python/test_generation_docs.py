"""Runs every ```python example and every command of docs/generation.md on a tiny random
GPT-2 with a trained byte-level BPE tokenizer (the path path/to/gpt2 is replaced by it; its
vocabulary is widened to 4000 ids so the examples' GPT-2 ids exist)."""
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "generation.md"


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    from tiny_models import build_tiny_gpt2_lm
    return build_tiny_gpt2_lm(tmp_path_factory.mktemp("gpt2doc"), seed=2, vocab_size=4000, n_positions=300)


def blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_doc_has_examples():
    assert len(blocks()) >= 1


@pytest.mark.parametrize("i", range(len(blocks())))
def test_doc_example_runs(gpt2_dir, i, capsys):
    code = blocks()[i].replace('"path/to/gpt2"', repr(str(gpt2_dir)))
    exec(compile(code, f"docs/generation.md example {i}", "exec"), {})


def commands():
    sh = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return [line for b in sh for line in b.splitlines() if line.startswith("build/torchless")]


def test_doc_has_commands():
    assert len(commands()) >= 2


@pytest.mark.parametrize("i", range(len(commands())))
def test_doc_command_runs(gpt2_dir, i):
    argv = shlex.split(commands()[i].replace("path/to/gpt2", str(gpt2_dir)))
    argv[0] = str(ROOT / argv[0])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if "--format" in argv:
        recs = [json.loads(x) for x in out.stdout.split("\n") if x]
        assert all(r[0]["generated_text"] for r in recs)
    else:
        assert out.stdout.startswith("the quick brown fox")
