"""Runs every ```python example of docs/python.md on tiny random task models (the paths
models/... are replaced by them), and the CLI examples' pipeline path against the Python
pipeline."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python.md"
MODELS = {"models/classifier": "seq-cls", "models/ner": "token-cls", "models/mlm": "mlm",
          "models/nli": "nli", "models/qa": "qa", "models/cross-encoder": "cross-encoder"}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, minilm_dir):
    from tiny_models import build_tiny_bert_task

    dirs = {k: build_tiny_bert_task(tmp_path_factory.mktemp(v), v, seed=7) for k, v in MODELS.items()}
    dirs["sentence-transformers/all-MiniLM-L6-v2"] = minilm_dir
    return dirs


def blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_doc_has_examples():
    assert len(blocks()) >= 6


@pytest.mark.parametrize("i", range(len(blocks())))
def test_doc_example_runs(model_dirs, i):
    code = blocks()[i]
    for name, d in model_dirs.items():
        code = code.replace(f'"{name}"', repr(str(d)))
    exec(compile(code, f"docs/python.md example {i}", "exec"), {})


def test_cli_matches_python_pipeline(model_dirs, cli):
    import torchless

    d = str(model_dirs["models/classifier"])
    texts = ["I like you", "I hate you", ""]
    out = subprocess.run([str(cli), "run", "-m", d, "--task", "text-classification", *texts],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    pipe = torchless.pipeline("text-classification", model=d)
    assert [json.loads(line) for line in out] == [pipe(t) for t in texts]
    pair = {"text": "I like you", "text_pair": "You like me"}
    out = subprocess.run([str(cli), "run", "-m", d, "-t", "auto", "-i", "-", "--options", '{"top_k": 2}'],
                         input=json.dumps(pair) + "\n", capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == torchless.pipeline(model=d, top_k=2)(pair)
    ner = str(model_dirs["models/ner"])
    out = subprocess.run([str(cli), "run", "-m", ner, "-t", "ner", "-o", '{"aggregation_strategy": "max"}',
                          "hello world from c"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == torchless.pipeline("ner", model=ner, aggregation_strategy="max")("hello world from c")
    bad = subprocess.run([str(cli), "run", "-m", str(model_dirs["models/mlm"]), "-t", "fill-mask", "no mask"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "No mask_token ([MASK])" in bad.stderr


def sh_commands():
    """The command lines of docs/python.md's ```sh blocks that run `torchless`."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        lines += [ln for ln in block.splitlines() if re.search(r"(^|\| )torchless ", ln)]
    return lines


def test_doc_has_cli_examples():
    assert len(sh_commands()) >= 5


@pytest.mark.parametrize("i", range(len(sh_commands())))
def test_doc_cli_example_runs(model_dirs, cli, tmp_path, minilm_dir, i):
    """Each command as written (models/... replaced by the tiny models; no -m: the task's
    default model, here all-MiniLM-L6-v2 in a fake cache); it must succeed and print JSON."""
    from test_pipeline_default_models import fake_cache

    fake_cache(tmp_path, "sentence-transformers/all-MiniLM-L6-v2", minilm_dir)
    cmd = sh_commands()[i]
    for name, d in model_dirs.items():
        cmd = cmd.replace(name, str(d))
    env = {k: v for k, v in os.environ.items() if k != "TORCHLESS_MODEL"}
    env.update(HF_HUB_CACHE=str(tmp_path), PATH=f"{cli.parent}:{os.environ['PATH']}")
    p = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd], capture_output=True, text=True, env=env)
    assert p.returncode == 0, (cmd, p.stderr)
    assert p.stdout.strip() and all(json.loads(line) is not None for line in p.stdout.splitlines())
