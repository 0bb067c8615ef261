"""Decoder parity with transformers on tiny random models (fixed seeds): every token's
logits as model(input_ids).logits, greedy generation token for token as
model.generate(do_sample=False), prompts of different lengths batched (packed) in
torchless and run one by one, unpadded, in transformers; seeded sampling; errors."""
import numpy as np
import pytest
import torch

from tiny_models import build_tiny_encoder
from torchless import Model, TorchlessError

GPT2 = dict(n_layer=2, n_embd=64, n_head=4, vocab_size=211, n_positions=128)
LLAMA = dict(vocab_size=199, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, intermediate_size=96, max_position_embeddings=128,
             rope_theta=500.0, tie_word_embeddings=False)

CASES = {
    "gpt2_lm": ("GPT2LMHeadModel", dict(GPT2)),
    "gpt2_base": ("GPT2Model", dict(GPT2, n_inner=80, activation_function="gelu_new")),
    "gpt2_scaled_by_layer": ("GPT2LMHeadModel", dict(GPT2, scale_attn_by_inverse_layer_idx=True)),
    "llama": ("LlamaForCausalLM", dict(LLAMA)),
    "llama_tied_mha": ("LlamaForCausalLM", dict(LLAMA, num_key_value_heads=4, tie_word_embeddings=True)),
    "qwen2": ("Qwen2ForCausalLM", dict(LLAMA, tie_word_embeddings=True)),
    "mistral_window": ("MistralForCausalLM", dict(LLAMA, sliding_window=5)),
}
PROMPTS = [[5, 17, 3, 99, 42, 7, 8], [1], [60, 61, 62, 63], list(range(10, 40))]


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


def perturb_norms(path, cls, seed):
    """Randomizes the norm weights too (ln_1, input_layernorm, ...: build_tiny_encoder
    leaves those at 1) and saves the model again."""
    import transformers
    torch.manual_seed(seed + 1000)
    m = getattr(transformers, cls).from_pretrained(path).eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "norm" in n or ".ln_" in n or n.startswith("ln_"):
                p.add_(torch.randn_like(p) * 0.2)
    m.save_pretrained(path, safe_serialization=True)


def hf_model(path, name):
    import transformers
    cls = CASES[name][0]
    if not cls.endswith("LMHeadModel") and not cls.endswith("CausalLM"):
        cls = "GPT2LMHeadModel"  # a base checkpoint: the LM head is the tied wte
    return getattr(transformers, cls).from_pretrained(path, attn_implementation="eager").eval()


def assert_rel_close(got, want, rtol=1e-4):
    assert got.shape == want.shape
    err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    assert err.max() <= rtol, f"max relative error {err.max():.3g}"


@pytest.mark.parametrize("name", list(CASES))
def test_logits_match_transformers(built, name):
    path = built(name)
    hf = hf_model(path, name)
    m = Model(str(path))
    got = m.logits(PROMPTS)
    for ids, g in zip(PROMPTS, got):
        with torch.inference_mode():
            want = hf(torch.tensor([ids])).logits[0].numpy()
        assert_rel_close(g, want)


@pytest.mark.parametrize("name", list(CASES))
def test_greedy_generation_matches_transformers(built, name):
    path = built(name)
    hf = hf_model(path, name)
    m = Model(str(path))
    n_new = 12
    got = m.generate(PROMPTS, max_new_tokens=n_new, eos_token_id=[])
    for ids, g in zip(PROMPTS, got):
        with torch.inference_mode():
            out = hf.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=n_new,
                              min_new_tokens=n_new, eos_token_id=None, pad_token_id=0)
        assert g == out[0, len(ids):].tolist()


def test_greedy_stops_at_eos_and_each_step_matches(built):
    path = built("gpt2_lm")
    hf = hf_model(path, "gpt2_lm")
    m = Model(str(path))
    free = m.generate(PROMPTS[0], max_new_tokens=10, eos_token_id=[])
    eos = free[3]
    got = m.generate(PROMPTS[0], max_new_tokens=10, eos_token_id=eos)
    assert got == free[:free.index(eos) + 1]
    # the logits of each generated prefix, as transformers computes them from scratch
    seq = PROMPTS[0] + free
    mine = m.logits([seq])[0]
    with torch.inference_mode():
        want = hf(torch.tensor([seq])).logits[0].numpy()
    assert_rel_close(mine, want)
    assert [int(np.argmax(mine[len(PROMPTS[0]) - 1 + i])) for i in range(10)] == free


def test_sampling_is_seeded_and_top_k_1_is_greedy(built):
    m = Model(str(built("gpt2_lm")))
    kw = dict(max_new_tokens=15, do_sample=True, eos_token_id=[])
    a = m.generate(PROMPTS, seed=7, temperature=1.5, top_p=0.9, **kw)
    b = m.generate(PROMPTS, seed=7, temperature=1.5, top_p=0.9, **kw)
    c = m.generate(PROMPTS, seed=8, temperature=1.5, top_p=0.9, **kw)
    assert a == b and a != c
    greedy = m.generate(PROMPTS, max_new_tokens=15, eos_token_id=[])
    assert m.generate(PROMPTS, seed=3, top_k=1, **kw) == greedy
    assert m.generate(PROMPTS, seed=3, temperature=0.0, **kw) == greedy
    assert m.generate(PROMPTS, seed=3, top_p=1e-6, **kw) == greedy
    pen = m.generate(PROMPTS, max_new_tokens=15, eos_token_id=[], repetition_penalty=1.3)
    assert all(len(p) == 15 for p in pen)


def test_repetition_penalty_matches_transformers(built):
    path = built("llama")
    hf = hf_model(path, "llama")
    m = Model(str(path))
    for ids in PROMPTS[:3]:
        got = m.generate(ids, max_new_tokens=10, eos_token_id=[], repetition_penalty=1.7)
        with torch.inference_mode():
            out = hf.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=10, min_new_tokens=10,
                              eos_token_id=None, pad_token_id=0, repetition_penalty=1.7)
        assert got == out[0, len(ids):].tolist()


@pytest.mark.parametrize("kw, msg", [
    (dict(top_p=0.0, do_sample=True), "top_p"), (dict(top_p=1.5, do_sample=True), "top_p"),
    (dict(temperature=-1.0, do_sample=True), "temperature"), (dict(top_k=-2), "top_k"),
    (dict(repetition_penalty=0.0), "repetition_penalty"), (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(max_new_tokens=500), "max_new_tokens"),
])
def test_invalid_settings_are_named(built, kw, msg):
    m = Model(str(built("gpt2_lm")))
    args = dict(max_new_tokens=4)
    args.update(kw)
    with pytest.raises(TorchlessError, match=msg):
        m.generate(PROMPTS, **args)


def test_bad_prompts_are_named(built):
    m = Model(str(built("gpt2_lm")))
    with pytest.raises(TorchlessError, match="prompt 1 is empty"):
        m.generate([[1, 2], []], max_new_tokens=3)
    with pytest.raises(TorchlessError, match="passes the model's 128 positions"):
        m.generate([list(range(120))], max_new_tokens=20)
    with pytest.raises(TorchlessError, match="outside"):
        m.generate([[1, 5000]], max_new_tokens=3)


def test_encoder_refuses_generation(tmp_path):
    path = build_tiny_encoder(tmp_path, "BertModel", dict(vocab_size=50, hidden_size=32, num_hidden_layers=1,
                                                          num_attention_heads=2, intermediate_size=40))
    m = Model(str(path), load_tokenizer=False)
    with pytest.raises(TorchlessError, match="encoder"):
        m.generate([[1, 2]], max_new_tokens=2)
