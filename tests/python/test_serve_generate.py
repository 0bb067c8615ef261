"""torchless serve with a decoder, through the real clients: openai's
client.completions.create (streamed and not) and huggingface_hub's
InferenceClient.text_generation (streamed with details, and not) give what the in-process
torchless.Model.generate / pipeline give (greedy, and sampled with a seed); 16 concurrent
requests of different prompt lengths give the tokens they give one at a time and share
decode steps (/metrics counts steps and tokens); a client that goes away mid-stream frees
its sequence and the server keeps serving; bad parameters answer each protocol's 4xx."""
import json
import socket
import threading
import time

import pytest

from serve_util import Server, call, post_json
from tiny_models import build_tiny_gpt2_lm

PROMPTS = ["hello world", "the quick brown fox jumps over", "a", "machine learning models are fun to train",
           "café naïve"]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    return (build_tiny_gpt2_lm(tmp_path_factory.mktemp("lm"), seed=2, n_positions=320),
            build_tiny_gpt2_lm(tmp_path_factory.mktemp("long"), seed=3, n_positions=4096))


@pytest.fixture(scope="module")
def server(dirs):
    s = Server([("lm", dirs[0]), ("long", f"{dirs[1]}:text-generation")], "--kv-cache-tokens", 16384)
    try:
        yield s
    finally:
        assert s.stop() == 0, s.log()


@pytest.fixture(scope="module")
def ref(dirs):
    """(tokens, text) of Model.generate on model lm for a prompt and settings."""
    import tokenizers
    import torchless
    m = torchless.Model(str(dirs[0]))
    tok = tokenizers.Tokenizer.from_file(str(dirs[0] / "tokenizer.json"))

    def run(prompt, **kw):
        out = m.generate(tok.encode(prompt).ids, **kw)
        return out, tok.decode(out, skip_special_tokens=True)
    return run


def metrics(server, name, model="lm"):
    body = call(server, "GET", "/metrics")[2].decode()
    for line in body.splitlines():
        if line.startswith(f'{name}{{model="{model}"}}'):
            return int(line.split()[-1])
    raise AssertionError(f"{name} missing")


def test_openai_completions_equal_model_generate(server, ref):
    import openai
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="none")
    for p in PROMPTS:
        want_ids, want = ref(p, max_new_tokens=14, do_sample=False, repetition_penalty=1.5)
        r = client.completions.create(model="lm", prompt=p, max_tokens=14, temperature=0,
                                      extra_body={"repetition_penalty": 1.5})
        assert r.object == "text_completion" and r.choices[0].text == want, p
        assert r.choices[0].finish_reason == ("length" if len(want_ids) == 14 else "stop")
        assert r.usage.completion_tokens == len(want_ids) and r.usage.total_tokens == r.usage.prompt_tokens + len(want_ids)
        chunks = list(client.completions.create(model="lm", prompt=p, max_tokens=14, temperature=0, stream=True,
                                                extra_body={"repetition_penalty": 1.5}))
        assert "".join(c.choices[0].text for c in chunks) == want, p
        assert chunks[-1].choices[0].finish_reason == r.choices[0].finish_reason
        assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    # sampled with a seed: the in-process sampled stream of the same seed
    _, want = ref(PROMPTS[1], max_new_tokens=10, do_sample=True, temperature=0.8, top_p=0.9, top_k=0, seed=11)
    r = client.completions.create(model="lm", prompt=PROMPTS[1], max_tokens=10, temperature=0.8, top_p=0.9, seed=11)
    assert r.choices[0].text == want
    # a list of prompts: one choice each
    r = client.completions.create(model="lm", prompt=PROMPTS[:3], max_tokens=6, temperature=0)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert [c.text for c in r.choices] == [ref(p, max_new_tokens=6, do_sample=False)[1] for p in PROMPTS[:3]]
    # stop: cut from the text (OpenAI's rule), finish_reason stop
    full = ref(PROMPTS[0], max_new_tokens=14, do_sample=False, repetition_penalty=1.5)[1]
    stop = full[5:7]
    r = client.completions.create(model="lm", prompt=PROMPTS[0], max_tokens=14, temperature=0, stop=[stop],
                                  extra_body={"repetition_penalty": 1.5})
    assert r.choices[0].text == full[:full.index(stop)] and r.choices[0].finish_reason == "stop"
    chunks = list(client.completions.create(model="lm", prompt=PROMPTS[0], max_tokens=14, temperature=0, stop=stop,
                                            stream=True, extra_body={"repetition_penalty": 1.5}))
    assert "".join(c.choices[0].text for c in chunks) == full[:full.index(stop)]
    with pytest.raises(openai.UnprocessableEntityError, match="`n` must be 1"):
        client.completions.create(model="lm", prompt="hi", n=2)
    with pytest.raises(openai.UnprocessableEntityError, match="must be <= 320"):
        client.completions.create(model="lm", prompt="hi", max_tokens=400)
    with pytest.raises(openai.BadRequestError, match="chat template"):
        client.chat.completions.create(model="lm", messages=[{"role": "user", "content": "hi"}])


def test_inference_client_text_generation_equal_model_generate(server, ref, monkeypatch):
    from huggingface_hub import InferenceClient, constants
    # the suite runs with HF_HUB_OFFLINE=1; the client would refuse even a loopback URL
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    client = InferenceClient(base_url=server.url)
    for p in PROMPTS:
        want_ids, want = ref(p, max_new_tokens=12, do_sample=False, repetition_penalty=1.3)
        events = list(client.text_generation(p, max_new_tokens=12, repetition_penalty=1.3, stream=True, details=True))
        assert [e.token.id for e in events] == want_ids, p
        assert events[-1].generated_text == want and all(e.generated_text is None for e in events[:-1])
        d = events[-1].details
        assert d.generated_tokens == len(want_ids) and d.finish_reason == ("length" if len(want_ids) == 12 else "eos_token")
        assert all(e.token.logprob <= 0 for e in events)
        # the streamed token texts make up the text (no special token in it)
        assert "".join(e.token.text for e in events if not e.token.special) == want
        assert "".join(client.text_generation(p, max_new_tokens=12, repetition_penalty=1.3, stream=True)) == want
        out = client.text_generation(p, max_new_tokens=12, repetition_penalty=1.3, details=True)
        assert out.generated_text == want and [t.id for t in out.details.tokens] == want_ids
        assert client.text_generation(p, max_new_tokens=12, repetition_penalty=1.3) == want
        assert client.text_generation(p, max_new_tokens=12, repetition_penalty=1.3, return_full_text=True) == p + want
    # sampled with a seed (TGI samples when a warper is set); the seed comes back
    _, want = ref(PROMPTS[3], max_new_tokens=10, do_sample=True, temperature=0.7, top_k=20, top_p=1.0, seed=5)
    out = client.text_generation(PROMPTS[3], max_new_tokens=10, temperature=0.7, top_k=20, seed=5, details=True)
    assert out.generated_text == want and out.details.seed == 5


def test_tgi_routes_and_errors(server, ref):
    want_ids, want = ref(PROMPTS[1], max_new_tokens=9, do_sample=False)
    st, body = post_json(server, "/generate", {"inputs": PROMPTS[1], "parameters": {"max_new_tokens": 9, "details": True}})
    assert st == 200 and body["generated_text"] == want and [t["id"] for t in body["details"]["tokens"]] == want_ids
    st, _, raw = call(server, "POST", "/generate_stream", json.dumps({"inputs": PROMPTS[1], "parameters": {"max_new_tokens": 9}}))
    events = [json.loads(l[5:]) for l in raw.decode().splitlines() if l.startswith("data:")]
    assert st == 200 and [e["token"]["id"] for e in events] == want_ids and events[-1]["generated_text"] == want
    assert events[-1]["details"] is None  # details not asked
    for params, msg in [({"temperature": 0}, "temperature"), ({"top_p": 1.0}, "top_p"), ({"top_k": 0}, "top_k"),
                        ({"max_new_tokens": 0}, "max_new_tokens"), ({"max_new_tokens": 400}, "max_new_tokens"),
                        ({"best_of": 2}, "best_of"), ({"stop": "x"}, "stop"), ({"repetition_penalty": -1}, "repetition")]:
        st, body = post_json(server, "/generate", {"inputs": "hi", "parameters": params})
        assert st == 422 and body["error_type"] == "validation" and msg in body["error"], (params, body)
    st, body = post_json(server, "/generate", {"inputs": ""})
    assert st == 422 and "empty" in body["error"]
    st, body = post_json(server, "/generate", {"inputs": 5})
    assert st == 422 and "inputs" in body["error"]
    info = json.loads(call(server, "GET", "/info?model=lm")[2])
    assert "generator" in info["model_type"] and info["max_total_tokens"] == 320


def test_sixteen_concurrent_requests_share_decode_steps(server):
    prompts = [" ".join(["tok%d" % k] * (1 + (k * 7) % 23)) for k in range(16)]
    body = lambda p: {"inputs": p, "parameters": {"max_new_tokens": 40, "repetition_penalty": 1.2, "details": True}}
    one = []
    steps0, tok0 = metrics(server, "torchless_decode_steps_total"), metrics(server, "torchless_generated_tokens_total")
    for p in prompts:
        st, b = post_json(server, "/generate", body(p))
        assert st == 200
        one.append([t["id"] for t in b["details"]["tokens"]])
    steps1, tok1 = metrics(server, "torchless_decode_steps_total"), metrics(server, "torchless_generated_tokens_total")
    assert steps1 - steps0 == tok1 - tok0  # one at a time: one sequence per step
    out = [None] * 16
    barrier = threading.Barrier(16)

    def worker(k):
        barrier.wait()
        st, b = post_json(server, "/generate", body(prompts[k]))
        out[k] = [t["id"] for t in b["details"]["tokens"]] if st == 200 else st
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert out == one
    steps2, tok2 = metrics(server, "torchless_decode_steps_total"), metrics(server, "torchless_generated_tokens_total")
    print(f"16 concurrent: {tok2 - tok1} tokens in {steps2 - steps1} steps; one at a time {tok1 - tok0} in {steps1 - steps0}")
    assert tok2 - tok1 == tok1 - tok0
    assert steps2 - steps1 < (tok2 - tok1) / 3  # shared steps
    assert metrics(server, "torchless_max_step_sequences") >= 6


def test_client_leaving_mid_stream_frees_its_sequence(server):
    body = json.dumps({"inputs": "hello there", "parameters": {"max_new_tokens": 4000}}).encode()
    tok0 = metrics(server, "torchless_generated_tokens_total", "long")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(b"POST /generate_stream?model=long HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    got = b""
    while b"data:" not in got:
        got += sock.recv(4096)
    sock.close()  # gone mid-stream
    deadline = time.time() + 30
    while metrics(server, "torchless_running_sequences", "long") and time.time() < deadline:
        time.sleep(0.05)
    assert metrics(server, "torchless_running_sequences", "long") == 0
    made = metrics(server, "torchless_generated_tokens_total", "long") - tok0
    print(f"the left stream made {made} of 4000 tokens")
    assert 0 < made < 4000
    # still serving, with the whole cache free
    st, b = post_json(server, "/generate?model=long", {"inputs": "hello there", "parameters": {"max_new_tokens": 5}})
    assert st == 200 and b["generated_text"]
