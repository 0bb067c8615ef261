"""The Python package's doors behave as the libraries they stand in for (issue #15):
NUL characters are rejected, never cut; a single string is one embedding; Model.encode has
SentenceTransformer.encode's signature; optimize()'s output works inside transformers'
pipelines; pipeline() takes optimized models, says what to pass for live ones and checks
tokenizer= / revision=; unsupported options raise; errors are ValueError / OSError;
TORCHLESS_NUM_THREADS is checked on import."""
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

import torchless
from tiny_models import build_tiny_bert_task

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """Tiny task models: a classifier (labels NEGATIVE/NEUTRAL/POSITIVE), an NLI model."""
    return {t: build_tiny_bert_task(tmp_path_factory.mktemp(t), t, seed=7) for t in ("seq-cls", "nli")}


@pytest.fixture(scope="module")
def st_model(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


# ------------------------------------------------------------------ NUL characters

NUL_TEXT = "hello\0world"


def test_nul_is_rejected_by_model_doors(minilm_dir):
    m = torchless.Model(minilm_dir)
    for call in (lambda: m.embed([NUL_TEXT]), lambda: m.embed(NUL_TEXT), lambda: m.encode([NUL_TEXT]),
                 lambda: m.extract_features([NUL_TEXT])):
        with pytest.raises(ValueError, match=r"NUL character \(\\u0000\)"):
            call()


@pytest.mark.parametrize("task,inputs,kw", [
    ("text-classification", NUL_TEXT, {}),
    ("text-classification", {"text": "hi", "text_pair": NUL_TEXT}, {}),
    ("feature-extraction", [NUL_TEXT], {}),
    ("sentence-embedding", NUL_TEXT, {}),
    ("zero-shot-classification", "hello", {"candidate_labels": ["a\0b", "c"]}),
])
def test_nul_is_rejected_by_pipelines(dirs, task, inputs, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = torchless.pipeline(task, model=dirs["seq-cls"])
    with pytest.raises(torchless.TorchlessError, match=r"NUL character \(\\u0000\)"):
        pipe(inputs, **kw)


def test_nul_in_creation_options_is_rejected(dirs):
    with pytest.raises(ValueError, match="NUL character"):
        torchless.pipeline("zero-shot-classification", model=dirs["nli"], candidate_labels=["x\0y"])


def test_escaped_backslash_before_u0000_is_not_a_nul(dirs):
    pipe = torchless.pipeline("text-classification", model=dirs["seq-cls"])
    text = "a \\u0000 b"  # a backslash followed by 'u0000': no NUL character
    want = transformers.pipeline("text-classification", model=str(dirs["seq-cls"]))(text)
    got = pipe(text)
    assert got[0]["label"] == want[0]["label"] and abs(got[0]["score"] - want[0]["score"]) < 1e-5


def test_tokenizer_keeps_the_full_text(minilm_dir):
    import tokenizers

    want = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json")).encode(NUL_TEXT)
    got = torchless.Tokenizer(minilm_dir).encode(NUL_TEXT)
    hello = torchless.Tokenizer(minilm_dir).encode("hello")
    assert got.ids == want.ids and sum(got.attention_mask) > sum(hello.attention_mask)


# ------------------------------------------------------------------ Model.embed / encode

def test_single_string_is_one_vector(minilm_dir, st_model):
    m = torchless.Model(minilm_dir)
    want = st_model.encode("one string")
    for got in (m.embed("one string"), m.encode("one string")):
        assert got.shape == want.shape == (384,)
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert m.extract_features("one string").shape[1] == 384


TEXTS = ["A man is eating food.", "The girl is carrying a baby.", "x", "Un homme mange.", "東京"]


@pytest.mark.parametrize("kw", [dict(), dict(batch_size=2), dict(normalize_embeddings=True),
                                dict(batch_size=1, show_progress_bar=True)])
def test_encode_matches_sentence_transformers(minilm_dir, st_model, kw):
    got = torchless.Model(minilm_dir).encode(TEXTS, **kw)
    want = st_model.encode(TEXTS, **kw)
    assert isinstance(got, np.ndarray) and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_encode_output_kinds(minilm_dir, st_model):
    m = torchless.Model(minilm_dir)
    t = m.encode(TEXTS, convert_to_tensor=True)
    assert isinstance(t, torch.Tensor) and tuple(t.shape) == (len(TEXTS), 384)
    rows = m.encode(TEXTS, convert_to_numpy=False)
    want_rows = st_model.encode(TEXTS, convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == len(want_rows)
    assert all(isinstance(r, torch.Tensor) for r in rows)
    tok = m.encode(TEXTS[:2], output_value="token_embeddings")
    want_tok = st_model.encode(TEXTS[:2], output_value="token_embeddings")
    for a, b in zip(tok, want_tok):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="precision"):
        m.encode(TEXTS, precision="int8")
    with pytest.raises(ValueError, match="prompt_name"):
        m.encode(TEXTS, prompt_name="query")


# ------------------------------------------------------------------ optimize() in transformers' pipelines

def test_transformers_feature_extraction_pipeline_on_optimized_model(dirs):
    d = str(dirs["seq-cls"])
    tok = transformers.AutoTokenizer.from_pretrained(d)
    hf = transformers.pipeline("feature-extraction", model=transformers.AutoModel.from_pretrained(d), tokenizer=tok)
    for fast in (torchless.optimize(model=d, task="feature-extraction"),
                 torchless.optimize(model=transformers.AutoModel.from_pretrained(d))):
        pipe = transformers.pipeline("feature-extraction", model=fast, tokenizer=tok)
        np.testing.assert_allclose(np.array(pipe("hi")), np.array(hf("hi")), atol=1e-4)
        for got, want in zip(pipe(["hi", "the quick brown fox"]), hf(["hi", "the quick brown fox"])):
            np.testing.assert_allclose(np.array(got), np.array(want), atol=1e-4)
        got = pipe("hi there", return_tensors=True)
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), hf("hi there", return_tensors=True).numpy(), atol=1e-4)


def test_optimized_output_is_a_transformers_model_output(dirs):
    from transformers.utils import ModelOutput

    fast = torchless.optimize(model=str(dirs["seq-cls"]))
    out = fast(input_ids=torch.tensor([[2, 5, 6, 3]]))
    assert isinstance(out, ModelOutput)
    assert out[0] is out.logits and out["logits"] is out.logits


def test_optimize_default_skips_padding(dirs):
    d = str(dirs["seq-cls"])
    tok = transformers.AutoTokenizer.from_pretrained(d)
    base = transformers.AutoModel.from_pretrained(d).eval()
    inputs = tok(["hello", "the quick brown fox jumps over"], return_tensors="pt", padding=True)
    with torch.no_grad():
        want = base(**inputs).last_hidden_state.numpy()
    real = inputs["attention_mask"].numpy().astype(bool)
    assert not real.all()
    default = torchless.optimize(model=d, task="feature-extraction")
    assert default.padding == "skip"
    got = default(**inputs)["last_hidden_state"].numpy()
    np.testing.assert_allclose(got[real], want[real], atol=1e-4)
    assert np.all(got[~real] == 0)
    compute = torchless.optimize(model=d, task="feature-extraction", padding="compute")(**inputs)
    np.testing.assert_allclose(compute["last_hidden_state"].numpy(), want, atol=1e-4)


@pytest.mark.parametrize("kw,match", [({"labels": torch.tensor([1])}, "labels"),
                                      ({"output_hidden_states": True}, "output_hidden_states"),
                                      ({"output_attentions": True}, "output_attentions"),
                                      ({"frobnicate": 3}, "frobnicate")])
def test_optimized_model_refuses_what_it_does_not_compute(dirs, kw, match):
    fast = torchless.optimize(model=str(dirs["seq-cls"]))
    with pytest.raises((ValueError, TypeError), match=match):
        fast(input_ids=torch.tensor([[2, 5, 3]]), **kw)
    fast(input_ids=torch.tensor([[2, 5, 3]]), output_hidden_states=False, labels=None)  # no-ops are fine


# ------------------------------------------------------------------ pipeline(model=..., tokenizer=..., revision=...)

def test_pipeline_takes_an_optimized_model(dirs):
    d = str(dirs["seq-cls"])
    want = torchless.pipeline("text-classification", model=d)(["I like you", "no"])
    assert torchless.pipeline("text-classification", model=torchless.optimize(model=d))(["I like you", "no"]) == want


def test_pipeline_says_what_to_pass_for_a_live_model(dirs):
    live = transformers.AutoModelForSequenceClassification.from_pretrained(dirs["seq-cls"])
    for model in (live, torchless.optimize(model=live)):
        with pytest.raises(TypeError, match=r"pass model= a directory.*torchless\.optimize"):
            torchless.pipeline("text-classification", model=model)


def test_pipeline_tokenizer_argument(dirs):
    d = str(dirs["seq-cls"])
    want = torchless.pipeline("text-classification", model=d)("I like you")
    same = [d, transformers.AutoTokenizer.from_pretrained(d), torchless.Tokenizer(d)]
    for tok in same:
        assert torchless.pipeline("text-classification", model=d, tokenizer=tok)("I like you") == want
    for other in (str(dirs["nli"]), transformers.AutoTokenizer.from_pretrained(dirs["nli"])):
        with pytest.raises(ValueError, match="tokenizer saved beside the model"):
            torchless.pipeline("text-classification", model=d, tokenizer=other)


def fake_cache(root, repo_id, snapshots, main):
    """Lays out HF's cache for repo_id: snapshots {commit: src_dir} (symlinked files),
    refs/main = main, refs/v2 = the other commit."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    for commit, src in snapshots.items():
        for f in Path(src).iterdir():
            dest = repo / "snapshots" / commit / f.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(f)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(main + "\n")
    (repo / "refs" / "v2").write_text([c for c in snapshots if c != main][0])


def test_pipeline_revision_picks_the_snapshot(dirs, tmp_path, monkeypatch):
    fake_cache(tmp_path, "org/clf", {"aaaa": dirs["seq-cls"], "bbbb": dirs["nli"]}, main="aaaa")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    text = "the fox"
    at_main = torchless.pipeline("text-classification", model="org/clf")(text)
    assert at_main == torchless.pipeline("text-classification", model=str(dirs["seq-cls"]))(text)
    for rev in ("v2", "bbbb"):
        got = torchless.pipeline("text-classification", model="org/clf", revision=rev)(text)
        assert got == torchless.pipeline("text-classification", model=str(dirs["nli"]))(text)
    assert torchless.optimize(model="org/clf", revision="v2").config.label2id == \
        transformers.AutoConfig.from_pretrained(dirs["nli"]).label2id
    with pytest.raises(ValueError, match="revision 'nope'"):
        torchless.pipeline("text-classification", model="org/clf", revision="nope")


def test_pipeline_attributes(dirs):
    d = str(dirs["seq-cls"])
    pipe = torchless.pipeline("sentiment-analysis", model=d)
    hf = transformers.pipeline("sentiment-analysis", model=d)
    assert pipe.task == "text-classification"
    assert pipe.model.config.id2label == hf.model.config.id2label
    assert pipe.model.config.model_type == "bert"
    assert pipe.tokenizer.encode("I like you").ids == hf.tokenizer("I like you")["input_ids"]


def test_return_tensors_in_feature_extraction(dirs):
    d = str(dirs["seq-cls"])
    hf = transformers.pipeline("feature-extraction", model=d)
    pipe = torchless.pipeline("feature-extraction", model=d)
    got = pipe("hello world", return_tensors=True)
    want = hf("hello world", return_tensors=True)
    assert isinstance(got, torch.Tensor) and got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4)
    both = pipe(["hello", "the fox"], return_tensors=True)
    assert [tuple(t.shape) for t in both] == [tuple(t.shape) for t in hf(["hello", "the fox"], return_tensors=True)]


def test_zero_shot_warns_without_an_entailment_label(dirs):
    with pytest.warns(UserWarning, match="entailment"):
        torchless.pipeline("zero-shot-classification", model=dirs["seq-cls"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torchless.pipeline("zero-shot-classification", model=dirs["nli"])


# ------------------------------------------------------------------ errors

def test_error_kinds(dirs, tmp_path):
    with pytest.raises(OSError):
        torchless.Model(tmp_path / "missing")
    with pytest.raises(ValueError, match="top_k"):
        torchless.pipeline("text-classification", model=dirs["seq-cls"])("x", top_k="bad")
    with pytest.raises(ValueError, match="is a file"):
        torchless.Model(dirs["seq-cls"] / "config.json")
    with pytest.raises(ValueError, match="is a file"):
        torchless.pipeline("text-classification", model=dirs["seq-cls"] / "model.safetensors")


@pytest.mark.parametrize("value,ok", [("abc", False), ("0", False), ("-1", False), ("2x", False),
                                      ("2", True), ("", True)])
def test_num_threads_variable_is_checked_on_import(value, ok):
    env = dict(os.environ, TORCHLESS_NUM_THREADS=value, PYTHONPATH=str(ROOT / "python"))
    p = subprocess.run([sys.executable, "-c", "import torchless"], capture_output=True, text=True, env=env)
    assert (p.returncode == 0) == ok, p.stderr
    if not ok:
        assert "TORCHLESS_NUM_THREADS must be a positive integer" in p.stderr and repr(value) in p.stderr
