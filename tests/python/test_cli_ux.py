"""`torchless run` / `tokenize` as a user meets them (issue #15): help that lists what there
is, messages that say what is wrong and where (FILE:LINE), options refused where they do not
apply, NUL characters rejected, results streamed batch by batch with --on-error stop|skip, a
progress bar on a terminal only, the task's default model from the cache, and
TORCHLESS_NUM_THREADS checked."""
import json
import os
import pty
import re
import subprocess
import threading
from pathlib import Path

import pytest

from test_cli import json_lines, run
from test_pipeline_default_models import fake_cache

ROOT = Path(__file__).resolve().parents[2]
PIPE_TASKS = ["text-classification", "token-classification", "question-answering", "fill-mask",
              "zero-shot-classification", "text-pair-scoring", "text-ranking", "sentence-similarity"]


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    from tiny_models import build_tiny_bert_task

    return build_tiny_bert_task(tmp_path_factory.mktemp("clf"), "seq-cls", seed=7)


@pytest.fixture(scope="module")
def mlm(tmp_path_factory):
    from tiny_models import build_tiny_bert_task

    return build_tiny_bert_task(tmp_path_factory.mktemp("mlm"), "mlm", seed=7)


# ------------------------------------------------------------------ help and docs

def test_top_level_help_lists_every_run_task(cli):
    top = run(cli, "--help").out
    run_help = run(cli, "run", "--help").out
    for task in PIPE_TASKS + ["sentence-embedding", "feature-extraction", "auto"]:
        assert task in run_help
        assert task in top, f"`torchless --help` does not list {task}"


def _torchless_variables():
    """Every TORCHLESS_* variable the C sources and the Python package read."""
    names = set()
    for f in list((ROOT / "src").rglob("*.c")) + list((ROOT / "python" / "torchless").glob("*.py")):
        names |= set(re.findall(r"(?:getenv|environ\.get|environ)\W+\"(TORCHLESS_[A-Z_]+)", f.read_text()))
    return names


def test_every_environment_variable_is_documented(cli):
    names = _torchless_variables()
    assert {"TORCHLESS_NUM_THREADS", "TORCHLESS_MODEL", "TORCHLESS_LIB", "TORCHLESS_ISA"} <= names
    top = run(cli, "--help").out
    readme = (ROOT / "README.md").read_text()
    from torchless.env import VARIABLES

    for n in names:
        assert n in top, f"`torchless --help` does not document {n}"
        assert n in readme, f"README.md does not document {n}"
        assert n in VARIABLES, f"torchless.env.VARIABLES lacks {n}"


def test_readme_links_stay_in_the_repository():
    text = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)", text):
        if "://" in target:
            continue
        p = (ROOT / target).resolve()
        assert p.is_relative_to(ROOT) and p.exists(), target
    assert "../" not in text


# ------------------------------------------------------------------ messages

def test_model_given_as_a_file(cli, clf):
    for cmd in (["run", "hi"], ["inspect"]):
        p = run(cli, cmd[0], "--model", clf / "config.json", *cmd[1:])
        assert p.returncode == 2, p.err
        assert "is a file" in p.err and "directory that holds config.json" in p.err
        assert "ORG/NAME" not in p.err


@pytest.mark.parametrize("content,why", [("", "is empty"), ("\n  \n\n", "has only blank lines")])
@pytest.mark.parametrize("cmd", ["run", "tokenize"])
def test_empty_input_file(cli, clf, tmp_path, content, why, cmd):
    f = tmp_path / "in.jsonl"
    f.write_text(content)
    p = run(cli, cmd, "--model", clf, "--input", f)
    assert p.returncode == 2
    assert f"{f} {why}" in p.err, p.err
    assert "give TEXT arguments" not in p.err


@pytest.mark.parametrize("cmd", ["run", "tokenize"])
def test_directory_as_input(cli, clf, tmp_path, cmd):
    p = run(cli, cmd, "--model", clf, "--input", tmp_path)
    assert p.returncode == 2
    assert f"{tmp_path}: is a directory" in p.err, p.err


@pytest.mark.parametrize("args", [["run"], ["run", "-t", "feature-extraction"], ["run", "-t", "text-classification"],
                                  ["tokenize"]])
def test_invalid_utf8_line_is_named_by_file_and_line(cli, clf, tmp_path, args):
    f = tmp_path / "in.jsonl"
    f.write_bytes(b'"fine"\n\n"ab\xff\xfe"\n')
    p = run(cli, *args, "--model", clf, "--input", f)
    assert p.returncode == 1, p.err
    assert f"{f}:3: invalid UTF-8 at byte offset 3" in p.err, p.err
    q = run(cli, *args, "--model", clf, "fine", b"ab\xff")
    assert q.returncode == 1 and "argument 2: invalid UTF-8 at byte offset 2" in q.err, q.err


def test_tokenize_errors_name_the_input(cli, clf):
    p = run(cli, "tokenize", "--model", clf, "--decode", "1 2", "1 x")
    assert p.returncode == 2 and "argument 2" in p.err, p.err


@pytest.mark.parametrize("task", ["sentence-embedding", "feature-extraction", "text-classification"])
def test_nul_in_input_is_rejected_not_cut(cli, clf, tmp_path, task):
    f = tmp_path / "in.jsonl"
    f.write_text('"hello"\n"hello\\u0000world"\n{"text": "a\\\\u0000"}\n')  # line 3: a backslash, no NUL
    p = run(cli, "run", "--model", clf, "--task", task, "--input", f, "--on-error", "skip")
    assert p.returncode == 2, p.err
    assert f"{f}:2: the text contains a NUL character" in p.err, p.err
    lines = p.out.splitlines()
    assert len(lines) == 3 and lines[1] == "null" and lines[2] != "null"


@pytest.mark.parametrize("task,opt", [("feature-extraction", ["--format", "table"]),
                                      ("text-classification", ["--format", "table"]),
                                      ("feature-extraction", ["--similarity"]),
                                      ("text-classification", ["--similarity"]),
                                      ("feature-extraction", ["--normalize"]),
                                      ("text-classification", ["--no-normalize"]),
                                      ("text-classification", ["--max-length", "8"])])
def test_options_that_do_not_apply_are_refused(cli, clf, task, opt):
    p = run(cli, "run", "--model", clf, "--task", task, *opt, "hello")
    assert p.returncode == 2, (p.out, p.err)
    assert opt[0] in p.err and p.out == ""


# ------------------------------------------------------------------ --on-error, streaming, progress

def test_on_error_skip_keeps_the_good_inputs(cli, mlm, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text('"the [MASK] fox"\n"no mask here"\n{not json\n"a [MASK] b"\n')
    from torchless import pipeline

    pipe = pipeline("fill-mask", model=mlm)
    stop = run(cli, "run", "--model", mlm, "--task", "fill-mask", "--input", f)
    assert stop.returncode == 1
    assert json_lines(stop.out) == [pipe("the [MASK] fox")]
    assert f"{f}:2: " in stop.err and "No mask_token" in stop.err
    skip = run(cli, "run", "--model", mlm, "--task", "fill-mask", "--input", f, "--on-error", "skip")
    assert skip.returncode == 2  # the worst: a malformed line
    assert [json.loads(x) for x in skip.out.splitlines()] == [pipe("the [MASK] fox"), None, None, pipe("a [MASK] b")]
    assert f"{f}:2: " in skip.err and f"{f}:3: not a JSON value" in skip.err
    assert "2 of 4 inputs failed" in skip.err
    bad = run(cli, "run", "--model", mlm, "--task", "fill-mask", "--input", f, "--on-error", "maybe")
    assert bad.returncode == 2 and "--on-error" in bad.err


def test_results_stream_batch_by_batch(cli, clf):
    proc = subprocess.Popen([str(cli), "run", "--model", str(clf), "-i", "-", "--batch-size", "2"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b'"one"\n"two"\n')
        proc.stdin.flush()
        killer = threading.Timer(60, proc.kill)  # a program that waits for EOF would block here
        killer.start()
        got = [proc.stdout.readline(), proc.stdout.readline()]  # stdin is still open
        killer.cancel()
        assert [json.loads(g)["index"] for g in got] == [0, 1]
        out, err = proc.communicate(b'"three"\n', timeout=60)
        assert [json.loads(x)["index"] for x in out.splitlines()] == [2]
        assert err == b""  # stderr is not a terminal: no progress bar
    finally:
        proc.kill()


def _run_on_pty(args):
    """Runs the command with stderr on a pseudo-terminal; returns (stdout, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    term = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        term += chunk
    out = p.stdout.read()
    p.wait(timeout=60)
    os.close(master)
    return out, term.decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_only(cli, clf, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(json.dumps(f"text {i}") for i in range(50)) + "\n")
    out, term = _run_on_pty([str(cli), "run", "--model", str(clf), "-i", str(f), "--batch-size", "8"])
    assert len(out.splitlines()) == 50
    assert "50/50" in term and "100%" in term and "inputs/s" in term, term
    out, term = _run_on_pty([str(cli), "run", "--model", str(clf), "-i", str(f), "--quiet"])
    assert len(out.splitlines()) == 50 and term == ""
    p = run(cli, "run", "--model", clf, "-i", f)
    assert p.returncode == 0 and p.err == ""


# ------------------------------------------------------------------ default model, environment

def test_default_model_per_task_is_the_python_one(cli, tmp_path):
    from torchless.pipeline import DEFAULT_MODELS, TASK_ALIASES

    empty = {"HF_HUB_CACHE": str(tmp_path), "HF_HOME": str(tmp_path), "HOME": str(tmp_path),
             "XDG_CACHE_HOME": str(tmp_path)}
    for task in list(DEFAULT_MODELS) + list(TASK_ALIASES):
        p = run(cli, "run", "--task", task, "hello", env=empty)
        assert p.returncode == 2
        assert DEFAULT_MODELS[TASK_ALIASES.get(task, task)] in p.err, (task, p.err)


def test_docs_cli_example_without_a_model(cli, tmp_path, minilm_dir):
    fake_cache(tmp_path, "sentence-transformers/all-MiniLM-L6-v2", minilm_dir)
    env = {"HF_HUB_CACHE": str(tmp_path)}
    line = '{"source_sentence": "a cat", "sentences": ["a dog", "a car"]}\n'
    p = run(cli, "run", "-t", "sentence-similarity", "-i", "-", stdin=line.encode(), env=env)
    assert p.returncode == 0, p.err
    import torchless

    want = torchless.pipeline("sentence-similarity", model=str(minilm_dir))(json.loads(line))
    got = json.loads(p.out)
    assert len(got) == 2 and max(abs(a - b) for a, b in zip(got, want)) < 1e-6


@pytest.mark.parametrize("value", ["abc", "0", "-2", "3x"])
@pytest.mark.parametrize("cmd", [["run", "hi"], ["inspect"], ["tokenize", "hi"]])
def test_bad_num_threads_variable_is_an_error(cli, clf, value, cmd):
    p = run(cli, cmd[0], "--model", clf, *cmd[1:], env={"TORCHLESS_NUM_THREADS": value})
    assert p.returncode == 2
    assert "TORCHLESS_NUM_THREADS must be a positive integer" in p.err and f"'{value}'" in p.err
    ok = run(cli, cmd[0], "--model", clf, *cmd[1:], env={"TORCHLESS_NUM_THREADS": "1"})
    assert ok.returncode == 0, ok.err


def readme_cli_commands():
    """The command lines of README.md's "Command line" ```sh block."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Command line"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [ln.split("  #")[0].strip() for ln in block.splitlines() if ln.strip()]


@pytest.mark.parametrize("i", range(len(readme_cli_commands())))
def test_readme_cli_example_runs(cli, clf, tmp_path_factory, i):
    from tiny_models import build_tiny_bert_task

    cmd = readme_cli_commands()[i]
    model = clf
    if "--task ner" in cmd:
        model = build_tiny_bert_task(tmp_path_factory.mktemp("ner"), "token-cls", seed=7)
    work = tmp_path_factory.mktemp("work")
    for name in ("texts.jsonl", "reviews.jsonl"):
        (work / name).write_text('"I like you"\n{"text": "the quick brown fox"}\n')
    cmd = cmd.replace("build/torchless", str(cli)).replace("DIR_OR_ID", str(model))
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=work,
                       env={k: v for k, v in os.environ.items() if k != "TORCHLESS_MODEL"})
    assert p.returncode == 0, (cmd, p.stderr)
    assert p.stdout.strip()
