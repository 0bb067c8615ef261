"""Generation options against transformers' generate on tiny random models: min_p,
no_repeat_ngram_size, min_new_tokens, eos lists, stop strings, logprobs of the chosen
tokens (compute_transition_scores), generation_config.json defaults, the per-token
callback, and the errors of invalid settings."""
import json

import numpy as np
import pytest
import torch

from test_decoder_parity import CASES, PROMPTS, hf_model, perturb_norms
from tiny_models import build_tiny_encoder, build_tiny_gpt2_lm
from torchless import Model, TorchlessError


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cls, cfg = CASES[name]
            path = build_tiny_encoder(tmp_path_factory.mktemp(name), cls, cfg, seed=len(name))
            perturb_norms(path, cls, seed=len(name))
            cache[name] = path
        return cache[name]
    return get


@pytest.fixture(scope="module")
def gpt2_tok(tmp_path_factory):
    """A tiny GPT-2 with a trained byte-level BPE tokenizer: (path, hf model, hf tokenizer)."""
    import transformers
    path = build_tiny_gpt2_lm(tmp_path_factory.mktemp("gpt2tok"), seed=3)
    hf = transformers.GPT2LMHeadModel.from_pretrained(path, attn_implementation="eager").eval()
    return path, hf, transformers.AutoTokenizer.from_pretrained(path)


def hf_generate(hf, ids, **kw):
    """transformers' greedy generate of one unpadded prompt: (new tokens, logprobs)."""
    kw.setdefault("pad_token_id", 0)
    with torch.inference_mode():
        out = hf.generate(torch.tensor([ids]), do_sample=False, output_scores=True,
                          return_dict_in_generate=True, **kw)
        lp = hf.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    return out.sequences[0, len(ids):].tolist(), lp[0].tolist()


@pytest.mark.parametrize("name", ["gpt2_lm", "llama", "qwen2"])
@pytest.mark.parametrize("size", [1, 2, 3])
def test_no_repeat_ngram_matches_transformers(built, name, size):
    path = built(name)
    hf, m = hf_model(path, name), Model(str(path))
    got = m.generate(PROMPTS, max_new_tokens=20, eos_token_id=[], no_repeat_ngram_size=size)
    for ids, g in zip(PROMPTS, got):
        want, _ = hf_generate(hf, ids, max_new_tokens=20, min_new_tokens=20, eos_token_id=None,
                              no_repeat_ngram_size=size)
        assert g == want


def test_greedy_logprobs_match_compute_transition_scores(built):
    for name in ("gpt2_lm", "mistral_window"):
        path = built(name)
        hf, m = hf_model(path, name), Model(str(path))
        toks, lps = m.generate(PROMPTS, max_new_tokens=10, eos_token_id=[], return_logprobs=True,
                               repetition_penalty=1.3, no_repeat_ngram_size=2)
        for ids, t, lp in zip(PROMPTS, toks, lps):
            want, want_lp = hf_generate(hf, ids, max_new_tokens=10, min_new_tokens=10, eos_token_id=None,
                                        repetition_penalty=1.3, no_repeat_ngram_size=2)
            assert t == want
            np.testing.assert_allclose(lp, want_lp, rtol=1e-4, atol=1e-5)
            assert all(x <= 0 for x in lp)


def test_eos_lists_and_min_new_tokens_match_transformers(built):
    path = built("llama")
    hf, m = hf_model(path, "llama"), Model(str(path))
    ids = PROMPTS[0]
    free = m.generate(ids, max_new_tokens=12, eos_token_id=[])
    eos = [free[2], free[5]]  # two eos ids, the first reached at step 3
    for kw in (dict(), dict(min_new_tokens=4), dict(min_new_tokens=8)):
        got = m.generate(ids, max_new_tokens=12, eos_token_id=eos, **kw)
        want, _ = hf_generate(hf, ids, max_new_tokens=12, eos_token_id=eos, **kw)
        assert got == want, kw
    assert m.generate(ids, max_new_tokens=12, eos_token_id=eos) == free[:3]
    # min_new_tokens with eos banned: the chain leaves the eos-free path
    assert len(m.generate(ids, max_new_tokens=12, eos_token_id=eos, min_new_tokens=4)) >= 4


def test_sampling_filters_agree_with_transformers_warpers(built):
    """Every sampled token lies in the set transformers' warpers keep at that step, and its
    logprob is log_softmax of the warped scores (temperature, top-k, top-p, min-p)."""
    from transformers.generation.logits_process import (LogitsProcessorList, MinPLogitsWarper,
                                                        TemperatureLogitsWarper, TopKLogitsWarper,
                                                        TopPLogitsWarper)
    path = built("qwen2")
    hf, m = hf_model(path, "qwen2"), Model(str(path))
    settings = [dict(temperature=0.7, min_p=0.2), dict(temperature=1.3, top_k=20, top_p=0.8, min_p=0.05),
                dict(top_p=0.6), dict(top_k=5, temperature=0.5)]
    for st in settings:
        warp = []
        if st.get("temperature", 1.0) != 1.0:
            warp.append(TemperatureLogitsWarper(st["temperature"]))
        if st.get("top_k"):
            warp.append(TopKLogitsWarper(st["top_k"]))
        if st.get("top_p", 1.0) < 1.0:
            warp.append(TopPLogitsWarper(st["top_p"]))
        if st.get("min_p"):
            warp.append(MinPLogitsWarper(st["min_p"]))
        warp = LogitsProcessorList(warp)
        full = dict(dict(top_k=0), **st)
        toks, lps = m.generate(PROMPTS, max_new_tokens=8, eos_token_id=[], do_sample=True, seed=11,
                               return_logprobs=True, **full)
        for ids, t, lp in zip(PROMPTS, toks, lps):
            seq = ids + t
            with torch.inference_mode():
                logits = hf(torch.tensor([seq])).logits[0]
                for k in range(len(t)):
                    prefix = torch.tensor([seq[:len(ids) + k]])
                    scores = warp(prefix, logits[len(ids) + k - 1:len(ids) + k].clone())
                    want = torch.log_softmax(scores, -1)[0]
                    assert torch.isfinite(want[t[k]]), (st, k)
                    assert abs(float(want[t[k]]) - lp[k]) <= 1e-4 * max(1.0, abs(lp[k])), (st, k)


def test_min_p_one_and_top_k_one_are_greedy(built):
    m = Model(str(built("gpt2_lm")))
    greedy = m.generate(PROMPTS, max_new_tokens=12, eos_token_id=[])
    kw = dict(max_new_tokens=12, eos_token_id=[], do_sample=True, seed=5, temperature=1.5)
    assert m.generate(PROMPTS, min_p=1.0, top_k=0, **kw) == greedy
    assert m.generate(PROMPTS, top_k=1, **kw) == greedy
    a = m.generate(PROMPTS, min_p=0.05, top_k=0, **kw)
    assert a == m.generate(PROMPTS, min_p=0.05, top_k=0, **kw)


def test_stop_strings_match_transformers(gpt2_tok):
    path, hf, tok = gpt2_tok
    m = Model(str(path))
    ids = tok("the quick brown")["input_ids"]
    kw = dict(max_new_tokens=30, eos_token_id=[], no_repeat_ngram_size=1)  # distinct tokens
    free = m.generate(ids, **kw)
    text = tok.decode(free)
    # the first substring of 3 characters from the middle on that does not occur before
    at = next(i for i in range(len(text) // 2, len(text) - 3) if text[i:i + 3].isascii() and text[i:i + 3].isprintable()
              and text[i:i + 3] not in text[:i + 2])
    stop = text[at:at + 3]
    got = m.generate(ids, stop_strings=[stop, "\u2603never"], **kw)
    with torch.inference_mode():
        out = hf.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=30, eos_token_id=None,
                          pad_token_id=0, no_repeat_ngram_size=1, stop_strings=[stop, "\u2603never"],
                          tokenizer=tok)
    assert got == out[0, len(ids):].tolist()
    assert len(got) < len(free) and stop in tok.decode(got) and stop not in tok.decode(got[:-1])


def test_on_token_streams_and_stops(built):
    m = Model(str(built("gpt2_lm")))
    seen = []
    toks, lps = m.generate(PROMPTS[:2], max_new_tokens=6, eos_token_id=[], return_logprobs=True,
                           on_token=lambda s, t, lp: seen.append((s, t, lp)))
    assert sorted(seen) == sorted((s, t, lp) for s in range(2) for t, lp in zip(toks[s], lps[s]))
    assert [t for s, t, _ in seen if s == 0] == toks[0]
    # a true return ends that sequence after its third token
    count = [0, 0]

    def third_of_1(s, t, lp):
        count[s] += 1
        return s == 1 and count[1] == 3
    short = m.generate(PROMPTS[:2], max_new_tokens=6, eos_token_id=[], on_token=third_of_1)
    assert short == [toks[0], toks[1][:3]]

    def boom(s, t, lp):
        raise KeyError("from the callback")
    with pytest.raises(KeyError, match="from the callback"):
        m.generate(PROMPTS[:2], max_new_tokens=6, on_token=boom)


def test_generation_config_json_is_honoured(tmp_path):
    import transformers
    gc = dict(do_sample=False, max_new_tokens=7, no_repeat_ngram_size=2, repetition_penalty=1.4,
              min_new_tokens=3)
    path = build_tiny_gpt2_lm(tmp_path / "m", seed=4, generation_config=gc)
    assert json.loads((path / "generation_config.json").read_text())["max_new_tokens"] == 7
    hf = transformers.GPT2LMHeadModel.from_pretrained(path, attn_implementation="eager").eval()
    m = Model(str(path))
    d = m.generation_defaults()
    assert d["max_new_tokens"] == 7 and d["no_repeat_ngram_size"] == 2 and d["min_new_tokens"] == 3
    assert d["top_k"] == 50 and d["eos_token_id"] == [0] and d["bos_token_id"] == 0
    for ids in ([5, 17, 3, 99, 42], [60, 61]):
        with torch.inference_mode():
            want = hf.generate(torch.tensor([ids]), pad_token_id=0)[0, len(ids):].tolist()
        assert m.generate(ids) == want
    # eos lists in generation_config.json
    (path / "generation_config.json").write_text(json.dumps({"eos_token_id": [7, 9], "bos_token_id": 1,
                                                             "do_sample": True, "top_k": 3}))
    d = Model(str(path)).generation_defaults()
    assert d["eos_token_id"] == [7, 9] and d["bos_token_id"] == 1 and d["do_sample"] and d["top_k"] == 3
    (path / "generation_config.json").write_text(json.dumps({"eos_token_id": "x"}))
    with pytest.raises(TorchlessError, match="generation_config.json: 'eos_token_id'"):
        Model(str(path))


def test_empty_prompt_starts_from_bos(gpt2_tok):
    path, hf, tok = gpt2_tok
    m = Model(str(path))
    got = m.generate([], max_new_tokens=8, eos_token_id=[])
    with torch.inference_mode():
        out = hf.generate(max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0)
    assert out[0, 0].item() == 0 and got == out[0, 1:].tolist()
    with pytest.raises(TorchlessError, match="prompt 0 is empty and there is no bos_token_id"):
        m.generate([], max_new_tokens=8, bos_token_id=-1)


@pytest.mark.parametrize("kw, msg", [
    (dict(top_p=0.0, do_sample=True), r"top_p 0 must be in \(0, 1\]"),
    (dict(top_p=1.01, do_sample=True), "top_p"),
    (dict(temperature=-0.5, do_sample=True), "temperature -0.5 must be"),
    (dict(min_p=1.5, do_sample=True), r"min_p 1.5 must be in \[0, 1\]"),
    (dict(min_p=-0.1), "min_p"),
    (dict(max_new_tokens=128), r"max_new_tokens 128 must be in \[1, 128\)"),
    (dict(max_new_tokens=100), "passes the model's 128 positions"),
    (dict(stop_strings=[""]), "stop string 0 is empty"),
])
def test_invalid_settings_are_named(built, kw, msg):
    m = Model(str(built("gpt2_lm")))
    args = dict(max_new_tokens=4)
    args.update(kw)
    with pytest.raises(TorchlessError, match=msg):
        m.generate(PROMPTS, **args)


def test_stop_strings_need_a_tokenizer(built):
    m = Model(str(built("gpt2_lm")))
    with pytest.raises(TorchlessError, match="stop_strings need a tokenizer"):
        m.generate(PROMPTS, max_new_tokens=4, stop_strings=["x"])
