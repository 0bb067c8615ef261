"""Pipeline parity of every encoder family x every task head transformers defines for it
(sequence classification single-/multi-label and one label, token classification, question
answering, masked LM), plus zero-shot on the NLI classifier and cross-encoder pair scoring,
on the shared corpus (tests/python/corpus.py, >= 30 inputs each with edge cases) and the
tasks' options. The oracle is transformers.pipeline run in the test (and, for question
answering, transformers 4's algorithm in test_pipelines_qa.reference; for pair scoring,
sentence-transformers' CrossEncoder). Labels, offsets, words, tokens and strings must be
identical; scores within 1e-4. Each tiny model (hidden 32, 2 layers) is built once."""
import re
import shutil

import pytest

from corpus import LONG, MASKED, PAIRS, QA_INPUTS, TEXTS
from test_pipelines_bert import assert_close, close
from test_pipelines_qa import close as qa_close
from test_pipelines_qa import reference as qa_reference
from tiny_models import FAMILIES, build_family_task

FAMILY = list(FAMILIES)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models: one torch thread is several times faster than two on a shared machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def family_dir(tmp_path_factory):
    """get(family, task) -> the saved tiny model directory, built once per session."""
    import json

    cache = {}

    def get(family, task):
        key = (family, task)
        if key not in cache:
            if task == "seq-cls-multi":  # the NLI classifier's weights as a multi-label one
                d = tmp_path_factory.mktemp(f"{family}-multi")
                shutil.copytree(get(family, "seq-cls"), d, dirs_exist_ok=True)
                cfg = json.loads((d / "config.json").read_text())
                cfg["problem_type"] = "multi_label_classification"
                (d / "config.json").write_text(json.dumps(cfg))
                cache[key] = d
            else:
                cache[key] = build_family_task(tmp_path_factory.mktemp(f"{family}-{task}"), family, task,
                                               seed=len(cache) + 1)
        return cache[key]

    return get


def pipes(task, d, **kw):
    import torchless
    from transformers import pipeline

    return pipeline(task, model=str(d), **kw), torchless.pipeline(task, model=str(d), **kw)


def check_all(ref, ours, inputs, as_list=False, **kw):
    """Each input alone (and, with as_list, all as one list) gives the same results."""
    for x in list(inputs) + ([list(inputs)] if as_list else []):
        want, got = ref(x, **kw), ours(x, **kw)
        assert close(want, got), f"{kw} {x!r}\ntransformers: {want}\ntorchless:    {got}"


# ------------------------------------------------------------------ text-classification

# options on the whole corpus, then more on its first 10 texts (wall time)
TC_OPTIONS = [{}, {"top_k": None}]
TC_MORE = [{"top_k": 2}, {"function_to_apply": "sigmoid"}, {"function_to_apply": "none", "top_k": None},
           {"function_to_apply": "softmax", "top_k": 1}]


@pytest.mark.parametrize("family", FAMILY)
def test_text_classification(family_dir, family):
    ref, ours = pipes("text-classification", family_dir(family, "seq-cls"))
    assert len(TEXTS) >= 30 and len(PAIRS) >= 30
    for i, kw in enumerate(TC_OPTIONS):
        check_all(ref, ours, TEXTS, as_list=i == 0, **kw)
    for kw in TC_MORE:
        check_all(ref, ours, TEXTS[:10], **kw)
    pairs = [{"text": a, "text_pair": b} for a, b in PAIRS]
    check_all(ref, ours, pairs, truncation=True)
    check_all(ref, ours, pairs[-8:], top_k=None, truncation="longest_first")
    for kw in ({"truncation": True}, {"truncation": True, "max_length": 10}):
        assert_close(ref(LONG, **kw), ours(LONG, **kw))


@pytest.mark.parametrize("family", FAMILY)
@pytest.mark.parametrize("task", ["seq-cls-multi", "seq-cls-one"])
def test_text_classification_multi_label_and_one_label(family_dir, family, task):
    ref, ours = pipes("text-classification", family_dir(family, task))
    check_all(ref, ours, TEXTS, top_k=None)
    for kw in ({}, {"function_to_apply": "softmax", "top_k": None}):
        check_all(ref, ours, TEXTS[:6], **kw)


# ------------------------------------------------------------------ token-classification

@pytest.mark.parametrize("family", FAMILY)
def test_token_classification(family_dir, family):
    d = family_dir(family, "token-cls")
    texts = TEXTS + [LONG]
    for agg in ("none", "simple", "first", "average", "max"):
        ref, ours = pipes("token-classification", d, aggregation_strategy=agg)
        # the word-level strategies on a third of the corpus with the long text (wall time)
        check_all(ref, ours, texts if agg in ("none", "simple") else texts[::3], as_list=agg == "simple")
        check_all(ref, ours, texts[4:7], ignore_labels=[] if agg == "none" else ["B-PER", "I-PER", "PER"])
    # the model decides labels: some entity is found
    assert any(pipes("token-classification", d)[1](t) for t in texts)


# ------------------------------------------------------------------ fill-mask

FM_MORE = [{"targets": ["fox", "dog", "the", "zzzq"]}, {"top_k": 1}, {"top_k": 8}, {"targets": "hello", "top_k": 3}]


@pytest.mark.parametrize("family", FAMILY)
def test_fill_mask(family_dir, family):
    import json

    d = family_dir(family, "mlm")
    mask = json.loads((d / "tokenizer_config.json").read_text())["mask_token"]
    masked = [m.replace("[MASK]", mask) for m in MASKED]
    ref, ours = pipes("fill-mask", d)
    assert len(masked) >= 30
    check_all(ref, ours, masked, as_list=True)
    for kw in FM_MORE:  # on the several-mask inputs and a few single ones (wall time)
        check_all(ref, ours, masked[-7:], **kw)
    kw = {"tokenizer_kwargs": {"truncation": True}}
    assert_close(ref(mask + " " + LONG, **kw), ours(mask + " " + LONG, **kw))


# ------------------------------------------------------------------ zero-shot-classification

# words of the tokenizer's vocabulary, so that no two hypotheses encode the same
LABEL_SETS = [["fox", "dog", "step"], ["models", "world"], ["journey"], "text, vectors ,  ,miles"]


def zero_shot_close(want, got):
    """Same sequence, same score per label, same sorted scores: labels may only swap places
    where their scores agree to float32 noise (a tiny random NLI head can tie them)."""
    assert got["sequence"] == want["sequence"]
    assert close(want["scores"], got["scores"]), f"\ntransformers: {want}\ntorchless:    {got}"
    assert close(dict(zip(want["labels"], want["scores"])), dict(zip(got["labels"], got["scores"]))), \
        f"\ntransformers: {want}\ntorchless:    {got}"


@pytest.mark.parametrize("family", FAMILY)
def test_zero_shot(family_dir, family):
    ref, ours = pipes("zero-shot-classification", family_dir(family, "seq-cls"))
    for multi in (False, True):
        for i, text in enumerate(TEXTS[1:] + [LONG]):
            labels = LABEL_SETS[i % len(LABEL_SETS)]
            zero_shot_close(ref(text, candidate_labels=labels, multi_label=multi),
                            ours(text, candidate_labels=labels, multi_label=multi))
        kw = {"candidate_labels": ["dog", "fox"], "hypothesis_template": "This text is about {}!",
              "multi_label": multi}
        for want, got in zip(ref(TEXTS[1:6], **kw), ours(TEXTS[1:6], **kw)):
            zero_shot_close(want, got)


# ------------------------------------------------------------------ question-answering

# the defaults on every input; the other options on short and long contexts (wall time)
QA_OPTIONS = [{}, {"top_k": 3}, {"handle_impossible_answer": True}, {"max_answer_len": 3},
              {"align_to_words": False}, {"max_seq_len": 32, "doc_stride": 8, "top_k": 2}]
QA_SOME = QA_INPUTS[:2] + QA_INPUTS[10:12] + QA_INPUTS[20::4]


@pytest.mark.parametrize("family", FAMILY)
def test_question_answering(family_dir, family):
    import torchless
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    d = family_dir(family, "qa")
    model, tok = AutoModelForQuestionAnswering.from_pretrained(d).eval(), AutoTokenizer.from_pretrained(d)
    ours = torchless.pipeline("question-answering", model=str(d))
    assert len(QA_INPUTS) >= 30
    for i, kw in enumerate(QA_OPTIONS):
        for q, c in QA_INPUTS if i == 0 else QA_SOME:
            want, got = qa_reference(model, tok, q, c, **kw), ours(question=q, context=c, **kw)
            assert qa_close(want, got), f"{kw} {q!r} / {c[:40]!r}\nreference: {want}\ntorchless: {got}"
    batch = [{"question": q, "context": c} for q, c in QA_INPUTS[:5]]
    assert all(qa_close(qa_reference(model, tok, b["question"], b["context"]), g) for b, g in zip(batch, ours(batch)))


# ------------------------------------------------------------------ text-pair-scoring / text-ranking

def assert_ranking_close(expected, got, tol=1e-4):
    """A ranked list of {corpus_id, score, ...}: every document's entry within tol of
    transformers', got sorted by its own scores, and its order equal to expected's except
    where two documents' expected scores are within tol of each other (a near-tie: the
    tiny ALBERT's scores all lie within 7e-5, and float rounding decides their order)."""
    by_id = {e["corpus_id"]: e for e in expected}
    assert len(got) == len(expected) and {g["corpus_id"] for g in got} == by_id.keys(), \
        f"\ntransformers: {expected}\ntorchless:    {got}"
    for g in got:
        assert_close(by_id[g["corpus_id"]], g)
    scores = [g["score"] for g in got]
    assert scores == sorted(scores, reverse=True), f"not sorted by score: {got}"
    for e, g in zip(expected, got):
        assert abs(e["score"] - by_id[g["corpus_id"]]["score"]) <= tol, \
            f"rank of {g['corpus_id']} differs beyond a near-tie:\ntransformers: {expected}\ntorchless:    {got}"


@pytest.mark.parametrize("family", FAMILY)
def test_text_pair_scoring_and_ranking(family_dir, family):
    import torchless
    from sentence_transformers import CrossEncoder

    one, three = family_dir(family, "seq-cls-one"), family_dir(family, "seq-cls")
    ce = CrossEncoder(str(one), device="cpu")
    assert_close(ce.predict(PAIRS).tolist(), torchless.pipeline("text-pair-scoring", model=str(one))(PAIRS))
    docs = TEXTS[:12] + [LONG]  # no two alike: rank ties between equal documents are noise
    assert_ranking_close(ce.rank("the quick brown fox", docs, return_documents=True),
                         torchless.pipeline("rerank", model=str(one))("the quick brown fox", docs,
                                                                      return_documents=True))
    ce3 = CrossEncoder(str(three), device="cpu")
    pipe3 = torchless.pipeline("text-pair-scoring", model=str(three))
    assert_close(ce3.predict(PAIRS).tolist(), pipe3(PAIRS))
    assert_close(ce3.predict(PAIRS, apply_softmax=True).tolist(), pipe3(PAIRS, apply_softmax=True))


# ------------------------------------------------------------------ wrong use

HEAD_OF = {"text-classification": "ForSequenceClassification", "zero-shot-classification": "ForSequenceClassification",
           "text-pair-scoring": "ForSequenceClassification", "text-ranking": "ForSequenceClassification",
           "token-classification": "ForTokenClassification", "question-answering": "ForQuestionAnswering",
           "fill-mask": "ForMaskedLM"}


@pytest.mark.parametrize("family", FAMILY)
def test_wrong_use_says_what_to_do(family_dir, family, tmp_path):
    import json

    import torchless
    from safetensors.numpy import load_file, save_file

    # a base checkpoint (no head) for every head task: the missing tensor and the class to load
    base = family_dir(family, "base")
    for task, cls in HEAD_OF.items():
        with pytest.raises(torchless.TorchlessError, match=rf"missing tensor '.+': this checkpoint has no .+ head "
                                                           rf"\(load a model fine-tuned .+ \*{cls} class\)"):
            torchless.pipeline(task, model=str(base))
    # one head tensor missing from a task checkpoint is named
    d = tmp_path / "partial"
    shutil.copytree(family_dir(family, "qa"), d)
    weights = load_file(str(d / "model.safetensors"))
    victim = next(k for k in weights if k.endswith(("qa_outputs.weight", "classifier.weight")))
    del weights[victim]
    save_file(weights, str(d / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(torchless.TorchlessError, match=rf"missing tensor '{victim}'.*ForQuestionAnswering"):
        torchless.pipeline("question-answering", model=str(d))
    # config.json labels that do not fit the classifier
    d = tmp_path / "labels"
    shutil.copytree(family_dir(family, "token-cls"), d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["id2label"] = {"0": "A", "1": "B"}
    cfg["label2id"] = {"A": 0, "B": 1}
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(torchless.TorchlessError, match=r"classifier.weight' has shape \[7,32\], expected \[2, 32\] "
                                                       r"\(config.json id2label / num_labels\)"):
        torchless.pipeline("token-classification", model=str(d))
    # a question without a context, a fill-mask input without the mask token
    qa = torchless.pipeline("question-answering", model=str(family_dir(family, "qa")))
    for call in (lambda: qa(question="who runs?"), lambda: qa({"question": "who runs?"}),
                 lambda: qa([{"question": "a", "context": "b"}, {"question": "who runs?"}])):
        with pytest.raises(torchless.TorchlessError, match=r"a question needs a context: pass \{\"question\""):
            call()
    mlm = family_dir(family, "mlm")
    mask = json.loads((mlm / "tokenizer_config.json").read_text())["mask_token"]
    fm = torchless.pipeline("fill-mask", model=str(mlm))
    with pytest.raises(torchless.TorchlessError, match=rf"No mask_token \({re.escape(mask)}\) found on the input: "
                                                       rf"put {re.escape(mask)} where"):
        fm(["the " + mask + " fox", "no mask here"])
