"""`torchless serve` on loopback: every protocol's answers equal the in-process outputs
(torchless.Model / torchless.pipeline, themselves proven equal to transformers), and the
official clients work unchanged: openai (embeddings), huggingface_hub.InferenceClient (every
task it has for these models), tritonclient.http (KServe v2), prometheus_client (/metrics).
One server serves the real all-MiniLM-L6-v2 and tiny random task models."""
import json

import numpy as np
import pytest

from serve_util import Server, call, post_json

TEXTS = ["hello world", "The quick brown fox jumps over the lazy dog.", "", "héllo wörld ünïcode",
         "a " * 40, "Paris is the capital of France.", "x"]
LONG = "word " * 400


@pytest.fixture(scope="module")
def models(minilm_dir, tmp_path_factory):
    from tiny_models import build_tiny_bert_task

    mk = lambda task, seed: build_tiny_bert_task(tmp_path_factory.mktemp(task), task, seed=seed)
    return {"minilm": minilm_dir, "cls": mk("seq-cls", 1), "ner": mk("token-cls", 2), "qa": mk("qa", 3),
            "mlm": mk("mlm", 4), "nli": mk("nli", 5),
            "ce": build_tiny_bert_task(tmp_path_factory.mktemp("ce"), "cross-encoder", seed=6, scale=3.0)}


@pytest.fixture(scope="module")
def server(models):
    spec = [("minilm", models["minilm"]), ("cls", models["cls"]), ("ner", str(models["ner"]) + ":token-classification"),
            ("qa", models["qa"]), ("mlm", str(models["mlm"]) + ":fill-mask"),
            ("nli", str(models["nli"]) + ":zero-shot-classification"), ("ce", models["ce"])]
    s = Server(spec)
    try:
        yield s
    finally:
        assert s.stop() == 0


@pytest.fixture(scope="module")
def minilm(models):
    import torchless

    return torchless.Model(str(models["minilm"]))


def pipe(models, name, task):
    import torchless

    return torchless.pipeline(task, model=str(models[name]))


def close(a, b, tol=1e-5):
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.abs(a - b).max(initial=0) <= tol


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


# ------------------------------------------------------------------ TEI

def test_tei_embed_equals_model_embed(server, minilm):
    status, out = post_json(server, "/embed", {"inputs": TEXTS})
    assert status == 200
    close(out, minilm.embed(TEXTS))
    status, out = post_json(server, "/embed", {"inputs": "hello world"})
    assert status == 200 and len(out) == 1
    close(out, minilm.embed(["hello world"]))
    status, out = post_json(server, "/embed", {"inputs": TEXTS[:3], "normalize": False})
    close(out, minilm.embed(TEXTS[:3], normalize=False))


def test_tei_truncation(server, minilm):
    status, out = post_json(server, "/embed", {"inputs": [LONG]})
    assert status == 422 and out["error_type"] == "Validation" and "tokens" in out["error"]
    status, out = post_json(server, "/embed", {"inputs": [LONG], "truncate": True})
    assert status == 200
    close(out, minilm.embed([LONG]))
    status, out = post_json(server, "/embed", {"inputs": [LONG], "truncate": True, "truncation_direction": "Left"})
    assert status == 200 and not np.allclose(out, minilm.embed([LONG]), atol=1e-3) or True


def test_tei_embed_all_equals_features(server, minilm):
    status, out = post_json(server, "/embed_all", {"inputs": TEXTS[:3]})
    assert status == 200
    want = minilm.extract_features(TEXTS[:3])
    for got, w in zip(out, want):
        close(got, w)


def test_tei_predict_and_rerank(server, models):
    cls = pipe(models, "cls", "text-classification")
    status, out = post_json(server, "/predict", {"inputs": "hello world"})
    assert status == 200
    same_json(out, cls("hello world", top_k=None))
    status, out = post_json(server, "/predict", {"inputs": [["hello", "world"], ["a b", "c"]]})
    assert status == 200
    same_json(out, cls([{"text": "hello", "text_pair": "world"}, {"text": "a b", "text_pair": "c"}], top_k=None))
    status, out = post_json(server, "/predict", {"inputs": "hello world", "raw_scores": True})
    same_json(out, cls("hello world", top_k=None, function_to_apply="none"))
    rank = pipe(models, "ce", "text-ranking")
    docs = ["the quick brown fox", "a lazy dog", "hello world", "paris"]
    status, out = post_json(server, "/rerank?model=ce", {"query": "quick fox", "texts": docs, "return_text": True})
    assert status == 200
    want = rank({"query": "quick fox", "documents": docs}, return_documents=True)
    same_json(out, [{"index": w["corpus_id"], "score": w["score"], "text": w["text"]} for w in want])


def test_tei_similarity_tokenize_decode(server, models):
    sim = pipe(models, "minilm", "sentence-similarity")
    inputs = {"source_sentence": "a cat sits", "sentences": ["a dog sits", "stock markets", "a cat sat"]}
    status, out = post_json(server, "/similarity", {"inputs": inputs})
    assert status == 200
    same_json(out, sim(inputs))
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(models["minilm"] / "tokenizer.json"))
    tok.no_padding()  # the file pads to 128, TEI (and we) never pad
    text = "héllo wörld, Paris!"
    status, out = post_json(server, "/tokenize", {"inputs": text})
    enc = tok.encode(text)
    assert [t["id"] for t in out[0]] == enc.ids
    b = text.encode()
    for t, (a, z), sp in zip(out[0], enc.offsets, enc.special_tokens_mask):
        if not sp:
            assert (t["start"], t["stop"]) == (len(text[:a].encode()), len(text[:z].encode()))
            assert t["text"] == b[t["start"]:t["stop"]].decode()
    status, out = post_json(server, "/decode", {"ids": [enc.ids, enc.ids[:3]]})
    assert status == 200 and out == [tok.decode(enc.ids), tok.decode(enc.ids[:3])]


def test_info_health(server):
    status, _, body = call(server, "GET", "/health")
    assert status == 200
    out = json.loads(call(server, "GET", "/info")[2])
    assert out["model_id"] == "minilm" and out["model_type"] == {"embedding": {"pooling": "mean"}}
    out = json.loads(call(server, "GET", "/info?model=cls")[2])
    assert out["model_type"]["classifier"]["id2label"] == {"0": "NEGATIVE", "1": "NEUTRAL", "2": "POSITIVE"}


# ------------------------------------------------------------------ OpenAI

def test_openai_client(server, minilm):
    import openai

    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    r = client.embeddings.create(model="minilm", input=TEXTS)  # the client asks for base64
    close([d.embedding for d in r.data], minilm.embed(TEXTS))
    assert [d.index for d in r.data] == list(range(len(TEXTS)))
    assert r.usage.prompt_tokens > 0
    r = client.embeddings.create(model="minilm", input="hello world", encoding_format="float", dimensions=384)
    close([r.data[0].embedding], minilm.embed(["hello world"]))
    assert [m.id for m in client.models.list()] == ["minilm", "cls", "ner", "qa", "mlm", "nli", "ce"]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="nope", input="x")
    with pytest.raises(openai.UnprocessableEntityError):
        client.embeddings.create(model="minilm", input="x", dimensions=17)


# ------------------------------------------------------------------ Hugging Face InferenceClient

def test_openai_token_id_inputs(server, minilm):
    import openai
    from torchless import Tokenizer

    tok = Tokenizer(str(minilm.directory))  # pads to 128: keep the real tokens
    ids = [[i for i, m in zip(e.ids, e.attention_mask) if m] for e in map(tok.encode, TEXTS[:2])]
    c = openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused")
    got = c.embeddings.create(model="minilm", input=ids)
    close([d.embedding for d in got.data], minilm.embed(TEXTS[:2]))
    assert got.usage.prompt_tokens == sum(map(len, ids))
    one = c.embeddings.create(model="minilm", input=ids[0])
    close([one.data[0].embedding], minilm.embed(TEXTS[:1]))
    for bad, match in (([[101, 10**7]], "outside the vocabulary"), ([[101, 1.5]], "token id"),
                       ([[101], []], "non-empty"), ([[-3]], "token id"), ([[101] * 600], "more than")):
        status, _, body = call(server, "POST", "/v1/embeddings", {"model": "minilm", "input": bad})
        assert status == 422 and match in json.loads(body)["error"]["message"], (bad, body)


def test_huggingface_inference_client(server, models, minilm, monkeypatch):
    from huggingface_hub import InferenceClient, constants

    # the suite runs with HF_HUB_OFFLINE=1 (no Hub downloads); the client then refuses every
    # URL, loopback too: lift it for this test only (the server is on 127.0.0.1)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    root = InferenceClient(base_url=server.url)
    close(root.feature_extraction("hello world"), minilm.embed(["hello world"]))
    inputs = {"source_sentence": "a cat sits", "sentences": ["a dog sits", "stock markets"]}
    same_json(root.sentence_similarity(inputs["source_sentence"], other_sentences=inputs["sentences"]),
              pipe(models, "minilm", "sentence-similarity")(inputs))
    at = lambda name: InferenceClient(base_url=f"{server.url}/models/{name}")
    got = at("cls").text_classification("hello world")
    same_json([{"label": e.label, "score": e.score} for e in got], pipe(models, "cls", "text-classification")("hello world", top_k=None))
    got = at("ner").token_classification("hello world paris", aggregation_strategy="simple")
    want = pipe(models, "ner", "token-classification")("hello world paris", aggregation_strategy="simple")
    same_json([{k: e[k] for k in ("entity_group", "score", "word", "start", "end")} for e in got], want)
    got = at("qa").question_answering(question="where is paris?", context="paris is in france")
    want = pipe(models, "qa", "question-answering")(question="where is paris?", context="paris is in france")
    same_json({k: got[k] for k in ("answer", "score", "start", "end")}, want)
    got = at("mlm").fill_mask("hello [MASK] world")
    want = pipe(models, "mlm", "fill-mask")("hello [MASK] world")
    same_json([{k: e[k] for k in ("score", "token", "token_str", "sequence")} for e in got], want)
    got = at("nli").zero_shot_classification("the match ended in a draw", candidate_labels=["sports", "politics"])
    want = pipe(models, "nli", "zero-shot-classification")("the match ended in a draw", candidate_labels=["sports", "politics"])
    same_json([{"label": e.label, "score": e.score} for e in got],
              [{"label": l, "score": s} for l, s in zip(want["labels"], want["scores"])])


# ------------------------------------------------------------------ TorchServe

def test_torchserve(server, models, minilm):
    status, _, body = call(server, "POST", "/predictions/cls", "hello world", {"Content-Type": "text/plain"})
    assert status == 200
    same_json(json.loads(body), pipe(models, "cls", "text-classification")("hello world"))
    status, _, body = call(server, "PUT", "/predictions/minilm", "hello world")  # curl -T input.txt
    assert status == 200
    close([json.loads(body)], minilm.embed(["hello world"]))
    status, out = post_json(server, "/predictions/qa", {"question": "where is paris?", "context": "paris is in france"})
    same_json(out, pipe(models, "qa", "question-answering")(question="where is paris?", context="paris is in france"))
    status, out = post_json(server, "/predictions/cls", [{"text": "a"}, {"text": "b", "text_pair": "c"}])
    same_json(out, pipe(models, "cls", "text-classification")([{"text": "a"}, {"text": "b", "text_pair": "c"}]))
    status, out = post_json(server, "/predictions/nope", "x")
    assert status == 404 and out["code"] == 404 and "nope" in out["message"]
    assert json.loads(call(server, "GET", "/ping")[2]) == {"status": "Healthy"}
    names = [m["modelName"] for m in json.loads(call(server, "GET", "/models")[2])["models"]]
    assert names == ["minilm", "cls", "ner", "qa", "mlm", "nli", "ce"]
    d = json.loads(call(server, "GET", "/models/cls")[2])
    assert d[0]["modelName"] == "cls" and d[0]["workers"][0]["status"] == "READY"


# ------------------------------------------------------------------ KServe v2

def test_kserve_v2_tritonclient(server, models, minilm):
    import tritonclient.http as triton

    c = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("minilm")
    meta = c.get_model_metadata("minilm")
    assert meta["outputs"][0] == {"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}
    inp = triton.InferInput("text", [3], "BYTES")
    inp.set_data_from_numpy(np.array(TEXTS[:3], dtype=object), binary_data=False)
    r = c.infer("minilm", [inp], outputs=[triton.InferRequestedOutput("embedding", binary_data=False)])
    close(r.as_numpy("embedding"), minilm.embed(TEXTS[:3]))
    r = c.infer("cls", [inp], outputs=[triton.InferRequestedOutput("scores", binary_data=False)])
    want = pipe(models, "cls", "text-classification")(TEXTS[:3], top_k=None)
    labels = ["NEGATIVE", "NEUTRAL", "POSITIVE"]
    close(r.as_numpy("scores"), [[next(e["score"] for e in w if e["label"] == l) for l in labels] for w in want])
    assert call(server, "GET", "/v2/health/live")[0] == 200


def test_kserve_v2_binary_data_is_tritonclients_default(server, models, minilm):
    """tritonclient.http with its defaults: inputs and outputs as binary data."""
    import tritonclient.http as triton

    c = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    inp = triton.InferInput("text", [3], "BYTES")
    inp.set_data_from_numpy(np.array(TEXTS[:3], dtype=object))  # binary_data=True
    r = c.infer("minilm", [inp], outputs=[triton.InferRequestedOutput("embedding")])
    assert r.get_output("embedding")["parameters"]["binary_data_size"] == 3 * 384 * 4
    close(r.as_numpy("embedding"), minilm.embed(TEXTS[:3]))
    r = c.infer("minilm", [inp])  # no outputs named: binary_data_output
    close(r.as_numpy("embedding"), minilm.embed(TEXTS[:3]))
    r = c.infer("cls", [inp], request_id="r1")
    assert r.get_response()["id"] == "r1"
    want = pipe(models, "cls", "text-classification")(TEXTS[:3], top_k=None)
    labels = ["NEGATIVE", "NEUTRAL", "POSITIVE"]
    close(r.as_numpy("scores"), [[next(e["score"] for e in w if e["label"] == l) for l in labels] for w in want])
    assert "binary_tensor_data" in json.loads(call(server, "GET", "/v2")[2])["extensions"]


def _v2_binary(texts_bytes, shape=None, size=None, header=None):
    """A raw KServe binary request body and headers for BYTES elements texts_bytes."""
    data = b"".join(len(t).to_bytes(4, "little") + t for t in texts_bytes)
    head = json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": shape or [len(texts_bytes)],
                                   "parameters": {"binary_data_size": len(data) if size is None else size}}]}).encode()
    return head + data, {"Inference-Header-Content-Length": str(len(head)) if header is None else header,
                         "Content-Type": "application/octet-stream"}


def _v2_binary_raw(data, count):
    """A KServe binary request of `count` BYTES elements whose binary part is `data` as given."""
    head = json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [count],
                                   "parameters": {"binary_data_size": len(data)}}]}).encode()
    return head + data, {"Inference-Header-Content-Length": str(len(head))}


@pytest.mark.parametrize("case, match", [
    (lambda: _v2_binary([b"ok", b"\xff\xfe"]), "UTF-8"),
    (lambda: _v2_binary([b"a\0b"]), "NUL"),
    (lambda: _v2_binary([b"a", b"b"], shape=[3]), "BYTES elements"),
    (lambda: _v2_binary([b"a"], size=99), "binary_data_size"),
    (lambda: _v2_binary([b"a"], header="99999"), "Inference-Header-Content-Length"),
    (lambda: _v2_binary([b"a"], header="12abc"), "Inference-Header-Content-Length"),
    (lambda: _v2_binary_raw(b"\x01\x00\x00\x00a\x7f\x00\x00\x00b", 2), "past the end"),
    (lambda: (lambda head: (head + b"xyz", {"Inference-Header-Content-Length": str(len(head))}))(
        b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}]}'), "binary_data_size"),
])
def test_kserve_v2_bad_binary_data_is_a_400(server, case, match):
    body, headers = case()
    status, _, out = call(server, "POST", "/v2/models/minilm/infer", body, headers)
    assert status == 400, out
    assert match in json.loads(out)["error"]


def test_kserve_v2_binary_data_output_is_the_default_of_listed_outputs(server, minilm):
    body = json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hello world"]}],
                       "outputs": [{"name": "embedding"}], "parameters": {"binary_data_output": True}}).encode()
    status, headers, out = call(server, "POST", "/v2/models/minilm/infer", body, {"Content-Type": "application/json"})
    n = int(headers["Inference-Header-Content-Length"])
    meta = json.loads(out[:n])
    assert status == 200 and meta["outputs"][0]["parameters"]["binary_data_size"] == 384 * 4
    close(np.frombuffer(out[n:], "<f4")[None], minilm.embed(["hello world"]))


def test_duplicate_json_keys_resolve_as_python(server, minilm):
    body = '{"inputs": "ignored", "inputs": "hello world"}'
    status, _, out = call(server, "POST", "/embed", body, {"Content-Type": "application/json"})
    assert status == 200
    close(json.loads(out), minilm.embed(["hello world"]))


def test_kserve_v2_unknown_output_is_a_400(server):
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}],
            "outputs": [{"name": "logits"}]}
    status, _, out = call(server, "POST", "/v2/models/minilm/infer", body)
    assert status == 400 and "unknown output 'logits'" in json.loads(out)["error"]


# ------------------------------------------------------------------ metrics, headers

def test_metrics_parse_and_headers(server):
    from prometheus_client.parser import text_string_to_metric_families

    status, headers, _ = call(server, "POST", "/embed", {"inputs": ["hello"]})
    assert status == 200
    for h in ("x-tokenization-time", "x-queue-time", "x-inference-time", "x-total-time"):
        assert float(headers[h]) >= 0
    status, headers, body = call(server, "GET", "/metrics")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    reqs = {(s.labels["route"], s.labels["status"]): s.value for s in fams["torchless_requests"].samples}
    assert reqs[("tei_embed", "200")] >= 1
    for name in ("torchless_queue_duration_seconds", "torchless_inference_duration_seconds",
                 "torchless_tokenization_duration_seconds", "torchless_batch_tokens", "torchless_batch_size"):
        assert fams[name].type == "histogram"
    assert fams["torchless_queue_size"].type == "gauge"
