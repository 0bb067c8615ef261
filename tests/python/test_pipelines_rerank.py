"""Cross-encoder and similarity tasks against sentence-transformers: text-pair-scoring vs
CrossEncoder.predict and text-ranking ("rerank") vs CrossEncoder.rank on a tiny random
BertForSequenceClassification(num_labels=1) with a trained WordPiece tokenizer (fixed seed),
and sentence-similarity vs SentenceTransformer.similarity on the real all-MiniLM-L6-v2."""
import json
import math
import subprocess

import numpy as np
import pytest

from test_pipelines_bert import LONG, TEXTS, assert_close

PAIRS = [[TEXTS[i], TEXTS[-1 - i]] for i in range(len(TEXTS))] + [
    ["", ""], ["a", ""], ["", "a"], ["hello world", LONG], [LONG, LONG], [LONG, "x"],
]
QUERY = "the quick brown fox"
DOCS = TEXTS[:12] + [LONG]  # TEXTS[0] is "": two equal documents would tie up to torch's padding noise


@pytest.fixture(scope="module")
def ce_dir(tmp_path_factory):
    from tiny_models import build_tiny_bert_task

    return build_tiny_bert_task(tmp_path_factory.mktemp("ce"), "cross-encoder", seed=5, scale=3.0)


@pytest.fixture(scope="module")
def nli_dir(tmp_path_factory):
    from tiny_models import build_tiny_bert_task

    return build_tiny_bert_task(tmp_path_factory.mktemp("nli3"), "nli", seed=6)


def cross_encoder(d, **kw):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(d), device="cpu", **kw)


def test_pair_scores_match_cross_encoder_predict(ce_dir):
    import torchless

    ce = cross_encoder(ce_dir)
    want = ce.predict(PAIRS).tolist()
    assert len(PAIRS) >= 30 and np.ptp(want) > 1e-3  # the scores are really decided by the text
    pipe = torchless.pipeline("text-pair-scoring", model=str(ce_dir))
    got = pipe(PAIRS)
    assert_close(want, got)
    # one pair (a list of two strings, or a dict) gives one score, as predict does
    assert_close(float(ce.predict(PAIRS[4])), pipe(PAIRS[4]))
    assert_close(float(ce.predict(PAIRS[4])), pipe({"text": PAIRS[4][0], "text_pair": PAIRS[4][1]}))
    assert_close(float(ce.predict(tuple(PAIRS[5]))), pipe(tuple(PAIRS[5])))


def test_activation_override_and_config(ce_dir, tmp_path):
    import shutil

    import torch
    import torchless

    want = cross_encoder(ce_dir, activation_fn=torch.nn.Identity()).predict(PAIRS[:8]).tolist()
    got = torchless.pipeline("text-pair-scoring", model=str(ce_dir), activation_fn="identity")(PAIRS[:8])
    assert_close(want, got)
    # the model's own activation_fn, as CrossEncoder.save writes it into config.json
    d = tmp_path / "tanh"
    shutil.copytree(ce_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["sentence_transformers"] = {"activation_fn": "torch.nn.modules.activation.Tanh"}
    (d / "config.json").write_text(json.dumps(cfg))
    want = cross_encoder(d).predict(PAIRS[:8]).tolist()
    assert_close(want, torchless.pipeline("text-pair-scoring", model=str(d))(PAIRS[:8]))
    assert_close(want, np.tanh(torchless.pipeline("text-pair-scoring", model=str(ce_dir),
                                                  activation_fn="identity")(PAIRS[:8])).tolist())


def test_several_labels_give_raw_logits_or_softmax(nli_dir):
    import torchless

    ce = cross_encoder(nli_dir)
    pipe = torchless.pipeline("text-pair-scoring", model=str(nli_dir))
    assert_close(ce.predict(PAIRS).tolist(), pipe(PAIRS))
    assert_close(ce.predict(PAIRS[:5], apply_softmax=True).tolist(), pipe(PAIRS[:5], apply_softmax=True))
    with pytest.raises(torchless.TorchlessError, match="num_labels=1.*text-pair-scoring"):
        torchless.pipeline("text-ranking", model=str(nli_dir))(QUERY, DOCS)


@pytest.mark.parametrize("kw", [{}, {"top_k": 3}, {"return_documents": True}, {"top_k": 5, "return_documents": True},
                                {"top_k": 0}, {"top_k": 100}])
def test_rank_matches_cross_encoder_rank(ce_dir, kw):
    import torchless

    want = cross_encoder(ce_dir).rank(QUERY, DOCS, **kw)
    for task in ("text-ranking", "rerank"):
        pipe = torchless.pipeline(task, model=str(ce_dir))
        assert pipe.task == "text-ranking"
        assert_close(want, pipe(QUERY, DOCS, **kw))
        assert_close(want, pipe({"query": QUERY, "documents": DOCS}, **kw))
        assert_close(want, pipe(query=QUERY, documents=DOCS, **kw))


def test_rank_several_queries_and_errors(ce_dir):
    import torchless

    ce = cross_encoder(ce_dir)
    pipe = torchless.pipeline("text-ranking", model=str(ce_dir), return_documents=True)
    queries = ["hello world", "", LONG]
    got = pipe([{"query": q, "documents": DOCS[:6]} for q in queries])
    assert_close([ce.rank(q, DOCS[:6], return_documents=True) for q in queries], got)
    assert pipe(QUERY, []) == []
    with pytest.raises(torchless.TorchlessError, match="query.*documents"):
        pipe({"query": QUERY})
    with pytest.raises(torchless.TorchlessError, match="document 1 is not a string"):
        pipe(QUERY, ["a", 3])
    with pytest.raises(torchless.TorchlessError, match="expected a pair"):
        torchless.pipeline("text-pair-scoring", model=str(ce_dir))(["only one"])
    with pytest.raises(torchless.TorchlessError, match="activation_fn"):
        torchless.pipeline("text-pair-scoring", model=str(ce_dir), activation_fn="swish")


SOURCES = ["A man is eating food.", "", "a", "The new movie is awesome", "东京 北京", "emoji 🙂 here"]
SENTENCES = ["A man is eating a piece of bread.", "A man is riding a horse.", "The cat plays in the garden",
             "", "x", "The new movie is so great", "A woman is playing violin.", "Two men pushed carts.",
             " ".join(["long text"] * 300), "café naïve résumé", "东京", "Hello, World!"]


@pytest.mark.parametrize("fn", [None, "cosine", "dot", "euclidean", "manhattan"])
def test_sentence_similarity_matches_sentence_transformers(minilm_dir, fn):
    import torchless
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(minilm_dir), device="cpu")
    if fn:
        st.similarity_fn_name = fn
    kw = {"similarity_fn_name": fn} if fn else {}
    pipe = torchless.pipeline("sentence-similarity", model=str(minilm_dir), **kw)
    got = pipe([{"source_sentence": s, "sentences": SENTENCES} for s in SOURCES])
    want = [st.similarity(st.encode([s]), st.encode(SENTENCES))[0].tolist() for s in SOURCES]
    assert len(SOURCES) * len(SENTENCES) >= 30
    assert_close(want, got)
    assert_close(want[0], pipe(SOURCES[0], SENTENCES))
    assert_close(want[0], pipe({"source_sentence": SOURCES[0], "sentences": SENTENCES}))


def test_sentence_similarity_config_and_errors(minilm_dir, tmp_path):
    import shutil

    import torchless
    from sentence_transformers import SentenceTransformer

    d = tmp_path / "minilm_dot"
    shutil.copytree(minilm_dir, d)
    (d / "config_sentence_transformers.json").write_text(json.dumps({"similarity_fn_name": "euclidean"}))
    st = SentenceTransformer(str(d), device="cpu")
    assert st.similarity_fn_name == "euclidean"
    want = st.similarity(st.encode(["a cat"]), st.encode(["a dog", "a car"]))[0].tolist()
    assert_close(want, torchless.pipeline("sentence-similarity", model=str(d))("a cat", ["a dog", "a car"]))
    pipe = torchless.pipeline("sentence-similarity", model=str(minilm_dir))
    with pytest.raises(torchless.TorchlessError, match="source_sentence"):
        pipe({"sentences": ["a"]})
    with pytest.raises(torchless.TorchlessError, match="similarity_fn_name"):
        pipe("a", ["b"], similarity_fn_name="jaccard")
    assert pipe("a", []) == []


def test_cli_runs_the_new_tasks(cli, ce_dir, minilm_dir):
    import torchless

    def run(model, task, lines):
        out = subprocess.run([str(cli), "run", "--model", str(model), "--task", task, "--input", "-"],
                             input="\n".join(json.dumps(x) for x in lines) + "\n", capture_output=True,
                             text=True, check=True).stdout
        return [json.loads(line) for line in out.splitlines()]

    ranks = [{"query": QUERY, "documents": DOCS[:5]}]
    assert_close(torchless.pipeline("text-ranking", model=str(ce_dir))(ranks), run(ce_dir, "rerank", ranks))
    pairs = PAIRS[:3]
    assert_close(torchless.pipeline("text-pair-scoring", model=str(ce_dir))(pairs),
                 run(ce_dir, "text-pair-scoring", pairs))
    sims = [{"source_sentence": "a cat", "sentences": ["a dog", "a car"]}]
    got = run(minilm_dir, "sentence-similarity", sims)
    assert_close(torchless.pipeline("sentence-similarity", model=str(minilm_dir))(sims), got)
    assert all(isinstance(x, float) and not math.isnan(x) for x in got[0])
