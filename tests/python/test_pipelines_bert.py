"""torchless.pipeline vs transformers.pipeline on tiny random BERT task models (fixed seeds,
heads scaled so rankings are decided): text-classification (single-label, multi-label,
one label, pairs, truncation), token-classification (every aggregation strategy),
fill-mask (several masks, targets, top_k) and zero-shot-classification on an NLI head.
Labels, entities, offsets, tokens and strings must be identical; scores within 1e-4."""
import math

import numpy as np
import pytest

from corpus import LONG, MASKED, TEXTS

TOKEN_TEXTS = TEXTS + [LONG]


def close(a, b, tol=1e-4):
    """Structural equality with floats within tol (absolute or relative)."""
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        a, b = float(a), float(b)
        return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, (np.integer,)):
        a = int(a)
    return a == b


def assert_close(expected, got):
    assert close(expected, got), f"\ntransformers: {expected}\ntorchless:    {got}"


@pytest.fixture(scope="module")
def task_dirs(tmp_path_factory):
    """Builds each tiny task model once; returns name -> directory."""
    from tiny_models import BERT_TASKS, build_tiny_bert_task

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = build_tiny_bert_task(tmp_path_factory.mktemp(name), name, seed=len(cache) + 1)
        return cache[name]

    assert set(BERT_TASKS) >= {"seq-cls", "token-cls", "mlm", "nli"}
    return get


def pipes(task, d, **kw):
    import torchless
    from transformers import pipeline

    return pipeline(task, model=str(d), **kw), torchless.pipeline(task, model=str(d), **kw)


# ------------------------------------------------------------------ text-classification

def test_task_inferred_from_architectures(task_dirs):
    import torchless

    assert torchless.pipeline(model=str(task_dirs("seq-cls"))).task == "text-classification"
    assert torchless.pipeline(model=str(task_dirs("token-cls"))).task == "token-classification"
    assert torchless.pipeline(model=str(task_dirs("mlm"))).task == "fill-mask"
    assert torchless.pipeline(model=str(task_dirs("qa"))).task == "question-answering"


def test_seq_cls_logits_match_torch(task_dirs):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    d = task_dirs("seq-cls")
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForSequenceClassification.from_pretrained(d).eval()
    _, ours = pipes("text-classification", d)
    for text in TEXTS:
        with torch.no_grad():
            ref = model(**tok(text, return_tensors="pt")).logits[0].numpy()
        got = ours(text, top_k=None, function_to_apply="none")
        got = np.array([next(g["score"] for g in got if g["label"] == model.config.id2label[i])
                        for i in range(len(ref))])
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
        assert np.ptp(ref) > 1.0  # the scaled head decides the argmax


@pytest.mark.parametrize("kwargs", [{}, {"top_k": None}, {"top_k": 2}, {"top_k": 1},
                                    {"function_to_apply": "sigmoid"}, {"function_to_apply": "none", "top_k": 3},
                                    {"function_to_apply": "softmax", "top_k": None}])
def test_text_classification_matches(task_dirs, kwargs):
    ref, ours = pipes("text-classification", task_dirs("seq-cls"))
    for text in TEXTS:
        assert_close(ref(text, **kwargs), ours(text, **kwargs))
    assert_close(ref(TEXTS, **kwargs), ours(TEXTS, **kwargs))
    assert_close(ref(TEXTS, batch_size=4, **kwargs), ours(TEXTS, batch_size=4, **kwargs))


def test_text_classification_pipeline_level_top_k(task_dirs):
    ref, ours = pipes("text-classification", task_dirs("seq-cls"), top_k=None)
    for x in (TEXTS[5], TEXTS[:3], {"text": "a", "text_pair": "b"}):
        assert_close(ref(x), ours(x))


def test_text_classification_pairs(task_dirs):
    ref, ours = pipes("text-classification", task_dirs("seq-cls"))
    pairs = [{"text": a, "text_pair": b} for a, b in zip(TEXTS, reversed(TEXTS))]
    for p in pairs:
        assert_close(ref(p), ours(p))
    assert_close(ref(pairs), ours(pairs))
    assert_close(ref(pairs, top_k=None), ours(pairs, top_k=None))


def test_text_classification_truncation(task_dirs):
    ref, ours = pipes("text-classification", task_dirs("seq-cls"))
    for kw in ({"truncation": True}, {"truncation": True, "max_length": 10}, {"truncation": "longest_first"}):
        assert_close(ref(LONG, **kw), ours(LONG, **kw))
        assert_close(ref({"text": LONG, "text_pair": LONG}, **kw), ours({"text": LONG, "text_pair": LONG}, **kw))
    import torchless

    with pytest.raises(torchless.TorchlessError, match="truncation"):
        ours(LONG)


@pytest.mark.parametrize("name", ["seq-cls-multi", "seq-cls-single"])
def test_text_classification_multi_label_and_single_label(task_dirs, name):
    ref, ours = pipes("text-classification", task_dirs(name))
    for kw in ({}, {"top_k": None}, {"top_k": 2}, {"function_to_apply": "softmax", "top_k": None}):
        for text in TEXTS:
            assert_close(ref(text, **kw), ours(text, **kw))


def test_text_classification_bad_options(task_dirs):
    import torchless

    _, ours = pipes("text-classification", task_dirs("seq-cls"))
    with pytest.raises(torchless.TorchlessError, match="function_to_apply"):
        ours("a", function_to_apply="bogus")
    with pytest.raises(torchless.TorchlessError, match="text_pair"):
        ours([["a", "b"]])


# ------------------------------------------------------------------ token-classification

@pytest.mark.parametrize("agg", ["none", "simple", "first", "average", "max"])
def test_token_classification_matches(task_dirs, agg):
    ref, ours = pipes("token-classification", task_dirs("token-cls"), aggregation_strategy=agg)
    for text in TOKEN_TEXTS:
        assert_close(ref(text), ours(text))
    assert_close(ref(TOKEN_TEXTS[:7]), ours(TOKEN_TEXTS[:7]))
    assert_close(ref(TEXTS[5], ignore_labels=[]), ours(TEXTS[5], ignore_labels=[]))
    assert_close(ref(TEXTS[5], ignore_labels=["B-PER", "I-PER", "PER"]),
                 ours(TEXTS[5], ignore_labels=["B-PER", "I-PER", "PER"]))


def test_token_classification_call_time_strategy(task_dirs):
    ref, ours = pipes("token-classification", task_dirs("token-cls"))
    for agg in ("simple", "max"):
        assert_close(ref(TEXTS[8], aggregation_strategy=agg), ours(TEXTS[8], aggregation_strategy=agg))
    entities = ours(TEXTS[5], aggregation_strategy="simple")
    assert entities and all(TEXTS[5][e["start"]:e["end"]] for e in entities)


# ------------------------------------------------------------------ fill-mask

@pytest.mark.parametrize("kwargs", [{}, {"top_k": 1}, {"top_k": 8}, {"targets": ["fox", "dog", "the", "zzzq"]},
                                    {"targets": "hello", "top_k": 3}])
def test_fill_mask_matches(task_dirs, kwargs):
    ref, ours = pipes("fill-mask", task_dirs("mlm"))
    assert len(MASKED) >= 30
    for text in MASKED:
        assert_close(ref(text, **kwargs), ours(text, **kwargs))
    assert_close(ref(MASKED[:5], **kwargs), ours(MASKED[:5], **kwargs))
    assert_close(ref(MASKED[:1], **kwargs), ours(MASKED[:1], **kwargs))


def test_fill_mask_logits_decide(task_dirs):
    _, ours = pipes("fill-mask", task_dirs("mlm"))
    top = ours("the quick [MASK] fox")
    assert top[0]["score"] > 2 * top[-1]["score"]


def test_fill_mask_errors(task_dirs):
    import torchless

    _, ours = pipes("fill-mask", task_dirs("mlm"))
    with pytest.raises(torchless.TorchlessError, match=r"No mask_token \(\[MASK\]\)"):
        ours("no mask here")
    with pytest.raises(torchless.TorchlessError, match="truncation"):
        ours(LONG + " [MASK]")
    got = ours("[MASK] " + LONG, tokenizer_kwargs={"truncation": True})
    ref, _ = pipes("fill-mask", task_dirs("mlm"))
    assert_close(ref("[MASK] " + LONG, tokenizer_kwargs={"truncation": True}), got)


# ------------------------------------------------------------------ zero-shot-classification

LABEL_SETS = [["fox", "dog", "music"], ["science", "politics"], ["travel"], "sports, music ,  ,cooking"]


@pytest.mark.parametrize("multi", [False, True])
def test_zero_shot_matches(task_dirs, multi):
    ref, ours = pipes("zero-shot-classification", task_dirs("nli"))
    for i, text in enumerate(TEXTS[1:] + [LONG]):
        labels = LABEL_SETS[i % len(LABEL_SETS)]
        assert_close(ref(text, candidate_labels=labels, multi_label=multi),
                     ours(text, candidate_labels=labels, multi_label=multi))
    assert_close(ref(TEXTS[1:5], ["a", "b", "c"], multi_label=multi), ours(TEXTS[1:5], ["a", "b", "c"], multi_label=multi))
    tpl = "This text is about {}!"
    assert_close(ref(TEXTS[6], candidate_labels=["dogs", "cats"], hypothesis_template=tpl, multi_label=multi),
                 ours(TEXTS[6], candidate_labels=["dogs", "cats"], hypothesis_template=tpl, multi_label=multi))


def test_zero_shot_errors(task_dirs):
    import torchless

    _, ours = pipes("zero-shot-classification", task_dirs("nli"))
    with pytest.raises(torchless.TorchlessError, match="at least one label"):
        ours("a", candidate_labels=[])
    with pytest.raises(torchless.TorchlessError, match="at least one sequence"):
        ours("", candidate_labels=["a"])
    with pytest.raises(torchless.TorchlessError, match="hypothesis_template"):
        ours("a", candidate_labels=["x"], hypothesis_template="no placeholder")
