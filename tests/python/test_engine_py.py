"""torchless.Engine (the library's batching engine from Python): results equal the direct
calls, requests from many threads share batches and give the serial answers, and errors,
truncation and cancellation behave as the C API documents."""
import threading

import numpy as np
import pytest

import torchless
from torchless import Engine

TEXTS = ["hello world", "a longer sentence about the weather in Paris", "x",
         "The quick brown fox jumps over the lazy dog. " * 5, "¿Qué tal? 你好 🙂"]


@pytest.fixture(scope="module")
def model(minilm_dir):
    return torchless.Model(str(minilm_dir))


def test_embed_equals_model_embed(model):
    with Engine(model) as e:
        got = e.embed(TEXTS)
        one = e.embed("hello world")
    np.testing.assert_allclose(got, model.embed(TEXTS), rtol=0, atol=1e-5)
    assert one.shape == (model.embedding_dim,)
    np.testing.assert_allclose(one, model.embed("hello world"), rtol=0, atol=1e-5)


def test_features_equal_model(model):
    with Engine(model) as e:
        got = e.extract_features(TEXTS[:3])
    want = model.extract_features(TEXTS[:3])
    assert len(got) == 3
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=0, atol=1e-4)


def test_threads_share_batches_and_match_serial(model):
    texts = [f"sentence number {i} " + "word " * (i % 17) for i in range(48)]
    want = model.embed(texts)
    got, reqs, errs = [None] * len(texts), [None] * len(texts), []
    with Engine(model, max_batch_delay_ms=50) as e:
        def client(k):
            try:
                for i in range(k, len(texts), 8):
                    reqs[i] = e.submit_embed(texts[i])
                for i in range(k, len(texts), 8):
                    got[i] = reqs[i].wait(timeout=60)
            except Exception as ex:  # noqa: BLE001 - reported below
                errs.append(ex)
        ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
    assert not errs
    np.testing.assert_allclose(np.stack(got), want, rtol=0, atol=1e-5)
    sizes = [r.timing()["batch_requests"] for r in reqs]
    assert max(sizes) > 1, f"no two requests shared a batch: {sizes}"
    assert all(r.timing()["inference_us"] > 0 for r in reqs)


def test_pipeline_request_equals_pipeline(tmp_path):
    from tiny_models import build_tiny_bert_task

    pipe = torchless.pipeline("text-classification", model=str(build_tiny_bert_task(tmp_path, "seq-cls", seed=1)))
    with Engine(pipe.model) as e:
        got = e.submit_pipeline(pipe, ["hello world", "good day"], top_k=None).wait(60)
    assert got == pipe(["hello world", "good day"], top_k=None)


def test_too_long_input_is_an_error_unless_truncated(model):
    long = "word " * 400
    with Engine(model) as e:
        with pytest.raises(ValueError, match="token"):
            e.submit_embed(long)
        np.testing.assert_allclose(e.embed(long, truncate=True), model.embed(long), rtol=0, atol=1e-5)


@pytest.mark.parametrize("bad, match", [
    ({"num_workers": -1}, "num_workers"), ({"max_batch_tokens": 1.5}, "max_batch_tokens"),
    ({"max_batch_delay_ms": True}, "max_batch_delay_ms")])
def test_bad_engine_params(model, bad, match):
    with pytest.raises(ValueError, match=match):
        Engine(model, **bad)


def test_bad_inputs(model):
    with Engine(model) as e:
        with pytest.raises(ValueError, match="NUL"):
            e.submit_embed("a\0b")
        with pytest.raises(ValueError, match="no texts"):
            e.submit_embed([])
        with pytest.raises(ValueError, match="truncation_direction"):
            e.submit_embed("a", truncation_direction="middle")
    with pytest.raises(ValueError, match="closed"):
        e.submit_embed("a")


def test_cancel_drops_a_queued_request(model):
    busy = ["The quick brown fox jumps over the lazy dog " * 10] * 256  # ~0.5 s on one worker
    with Engine(model, num_workers=1) as e:
        a = e.submit_embed(busy, truncate=True)
        b = e.submit_embed("queued behind a")
        b.cancel()
        assert a.wait(120).shape == (256, model.embedding_dim)
        with pytest.raises(ValueError, match="cancelled"):
            b.wait(60)


def same_json(a, b, tol=1e-5):
    """JSON values equal, numbers within tol."""
    if isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= tol, (a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), (a, b)
        for k in a:
            same_json(a[k], b[k], tol)
    elif isinstance(a, list):
        assert len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            same_json(x, y, tol)
    else:
        assert a == b


QA = {"question": "where is it?", "context": "it is in the house by the lake"}
# (model kind, task, request inputs of every form the task merges, call parameter sets)
MERGED = [
    ("seq-cls", "text-classification", ["good day", ["a", "b c"], ["only one"]], [{}, {"top_k": None}, {"top_k": 1}]),
    ("token-cls", "token-classification", ["hello world", ["a b", "c d e"], ["x y"]],
     [{}, {"aggregation_strategy": "simple"}]),
    ("mlm", "fill-mask", ["hello [MASK] .", ["a [MASK] b", "[MASK] c [MASK]"], ["only [MASK]"]], [{}, {"top_k": 2}]),
    ("qa", "question-answering", [QA, [QA, {"question": "what?", "context": "a lake"}], [QA]], [{}, {"top_k": 2}]),
    ("nli", "zero-shot-classification", ["the match was great", ["a", "b"], ["c"]],
     [{"candidate_labels": ["sport", "food"]}]),
    ("mlm", "feature-extraction", ["hello", ["a b", "c"], ["d"]], [{}]),
]


@pytest.mark.parametrize("kind, task, forms, param_sets", MERGED, ids=[m[1] for m in MERGED])
def test_pipeline_requests_merge_across_callers(tmp_path, kind, task, forms, param_sets):
    """Requests queued together run as one call and each gets what the pipeline gives it."""
    from tiny_models import build_tiny_bert_task

    pipe = torchless.pipeline(task, model=str(build_tiny_bert_task(tmp_path, kind, seed=3)))
    with Engine(pipe.model, max_batch_delay_ms=200) as e:
        for params in param_sets:
            reqs = [e.submit_pipeline(pipe, x, **params) for x in forms * 3]
            got = [r.wait(60) for r in reqs]
            for x, g in zip(forms * 3, got):
                same_json(g, pipe(x, **params))
            sizes = [r.timing()["batch_requests"] for r in reqs]
            assert max(sizes) > 1, f"{task} {params}: no requests merged: {sizes}"


def test_a_bad_request_does_not_fail_the_ones_merged_with_it(tmp_path):
    from tiny_models import build_tiny_bert_task

    pipe = torchless.pipeline("fill-mask", model=str(build_tiny_bert_task(tmp_path, "mlm", seed=3)))
    with Engine(pipe.model, max_batch_delay_ms=200) as e:
        good = [e.submit_pipeline(pipe, f"word {i} [MASK] .") for i in range(4)]
        bad = e.submit_pipeline(pipe, "no mask token here")
        more = e.submit_pipeline(pipe, ["x [MASK]", "y [MASK]"])
        for i, r in enumerate(good):
            same_json(r.wait(60), pipe(f"word {i} [MASK] ."))
        same_json(more.wait(60), pipe(["x [MASK]", "y [MASK]"]))
        with pytest.raises(ValueError, match="mask"):
            bad.wait(60)


def test_token_ids_equal_texts(model):
    from torchless import Tokenizer

    tok = Tokenizer(str(model.directory))  # MiniLM's tokenizer.json pads to 128: keep the real tokens
    ids = [[i for i, m in zip(e.ids, e.attention_mask) if m] for e in map(tok.encode, TEXTS)]
    with Engine(model) as e:
        np.testing.assert_allclose(e.submit_ids(ids).wait(60), model.embed(TEXTS), rtol=0, atol=1e-5)
        with pytest.raises(ValueError, match="outside the vocabulary"):
            e.submit_ids([[101, 10**6, 102]])
        for bad in ([101, 1.5, 102], [True, 101], ["7"]):
            with pytest.raises(ValueError, match="token ids"):
                e.submit_ids([bad])
        with pytest.raises(ValueError, match="no token ids"):
            e.submit_ids([[]])
        with pytest.raises(ValueError, match="more than"):
            e.submit_ids([[101] * 600])
        assert e.submit_ids([[101] * 600], truncate=True).wait(60).shape == (1, model.embedding_dim)


def test_full_pipeline_batch_does_not_wait_for_the_delay(tmp_path):
    import time
    from tiny_models import build_tiny_bert_task

    pipe = torchless.pipeline("text-classification", model=str(build_tiny_bert_task(tmp_path, "seq-cls", seed=1)))
    with Engine(pipe.model, max_batch_delay_ms=20000, max_batch_requests=4) as e:
        t0 = time.perf_counter()
        reqs = [e.submit_pipeline(pipe, f"text {i}") for i in range(4)]
        for i, r in enumerate(reqs):
            same_json(r.wait(60), pipe(f"text {i}"))
        assert time.perf_counter() - t0 < 10, "a full batch waited for the delay"
        assert [r.timing()["batch_requests"] for r in reqs] == [4] * 4


def test_a_nul_in_merged_parameters_is_an_error_for_each(tmp_path):
    from tiny_models import build_tiny_bert_task

    pipe = torchless.pipeline("zero-shot-classification", model=str(build_tiny_bert_task(tmp_path, "nli", seed=5)))
    with Engine(pipe.model, max_batch_delay_ms=200) as e:
        reqs = [e.submit_pipeline(pipe, f"text {i}", candidate_labels=["sp\0ort", "food"]) for i in range(3)]
        for r in reqs:
            with pytest.raises(ValueError, match="NUL"):
                r.wait(60)
