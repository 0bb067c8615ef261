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
