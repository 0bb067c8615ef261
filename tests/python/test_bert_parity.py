"""Last-hidden-state parity of the C encoder with transformers' BertModel on tiny random
models of several shapes, and batch independence."""
import numpy as np
import pytest
import torch

from torchless import Model

CONFIGS = {
    "l1_h32_a2": dict(layers=1, hidden=32, heads=2, seed=1),
    "l2_h64_a4": dict(layers=2, hidden=64, heads=4, seed=2),
    "l3_h96_a3": dict(layers=3, hidden=96, heads=3, seed=3, hidden_act="gelu_new"),
    "l2_h48_a4_one_type": dict(layers=2, hidden=48, heads=4, seed=4, type_vocab_size=1),
    "l2_h40_a2_relu_prefixed": dict(layers=2, hidden=40, heads=2, seed=5, hidden_act="relu", prefix=True),
    "l2_h64_a4_bf16": dict(layers=2, hidden=64, heads=4, seed=6, dtype="bfloat16"),
    "l1_h32_a2_f16": dict(layers=1, hidden=32, heads=2, seed=7, dtype="float16"),
}


def hf_hidden(model_dir, ids, type_ids=None, mask=None, pos=None):
    """Runs transformers' BertModel (fp32) on one unpadded sequence."""
    from transformers import BertModel

    m = BertModel.from_pretrained(model_dir, add_pooling_layer=False, torch_dtype=torch.float32).eval()
    t = lambda x: None if x is None else torch.tensor([x])
    with torch.inference_mode():
        return m(input_ids=t(ids), token_type_ids=t(type_ids), attention_mask=t(mask),
                 position_ids=t(pos)).last_hidden_state[0].numpy()


def assert_rel_close(got, want, rtol=1e-4):
    """Max abs error relative to the reference's magnitude (per element, floored)."""
    assert got.shape == want.shape
    err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    assert err.max() <= rtol, f"max relative error {err.max():.3g}"


def random_seqs(rng, vocab, n, lo=1, hi=60, type_vocab=2):
    lens = rng.integers(lo, hi + 1, size=n)
    ids = [rng.integers(0, vocab, size=L).tolist() for L in lens]
    tts = [(rng.integers(0, max(type_vocab, 1), size=L)).tolist() for L in lens]
    return ids, tts


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_tiny_bert_matches_transformers(tiny_models, name):
    cfg = CONFIGS[name]
    d = tiny_models(name, **cfg)
    from transformers import BertModel

    hf = BertModel.from_pretrained(d, add_pooling_layer=False, torch_dtype=torch.float32).eval()
    tl = Model(d, load_tokenizer=False)
    rng = np.random.default_rng(cfg["seed"])
    type_vocab = cfg.get("type_vocab_size", 2)
    ids, tts = random_seqs(rng, hf.config.vocab_size, 12, type_vocab=type_vocab)
    ids.append(rng.integers(0, hf.config.vocab_size, size=hf.config.max_position_embeddings).tolist())
    tts.append([0] * hf.config.max_position_embeddings)
    use_tt = type_vocab > 1  # with one type, run both sides without token_type_ids
    got = tl.forward(ids, token_type_ids=tts if use_tt else None)
    with torch.inference_mode():
        for i, (s, tt) in enumerate(zip(ids, tts)):
            want = hf(input_ids=torch.tensor([s]),
                      token_type_ids=torch.tensor([tt]) if use_tt else None).last_hidden_state[0].numpy()
            assert_rel_close(got[i], want)


def test_padded_batch_with_attention_mask_matches(tiny_models):
    """A padded HF batch (mask zeros at the end) equals our packed unpadded run, and a
    mask with zeros inside a sequence is honoured like transformers does."""
    d = tiny_models("l2_h64_a4", **CONFIGS["l2_h64_a4"])
    from transformers import BertModel

    hf = BertModel.from_pretrained(d, add_pooling_layer=False).eval()
    tl = Model(d, load_tokenizer=False)
    rng = np.random.default_rng(11)
    ids, tts = random_seqs(rng, hf.config.vocab_size, 6, lo=3, hi=30)
    L = max(len(s) for s in ids)
    pad = lambda s: s + [0] * (L - len(s))
    mask = [[1] * len(s) + [0] * (L - len(s)) for s in ids]
    with torch.inference_mode():
        want = hf(input_ids=torch.tensor([pad(s) for s in ids]),
                  token_type_ids=torch.tensor([pad(t) for t in tts]),
                  attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    got = tl.forward(ids, token_type_ids=tts)
    for i, s in enumerate(ids):
        assert_rel_close(got[i], want[i, :len(s)])
    # zeros inside the sequence: keys masked, every query still computed
    inner = [[1 if (j % 3) else 0 for j in range(len(s))] for s in ids]
    for i in range(len(inner)):
        inner[i][0] = 1
    with torch.inference_mode():
        want2 = [hf(input_ids=torch.tensor([s]), token_type_ids=torch.tensor([t]),
                    attention_mask=torch.tensor([m])).last_hidden_state[0].numpy()
                 for s, t, m in zip(ids, tts, inner)]
    got2 = tl.forward(ids, token_type_ids=tts, attention_mask=inner)
    for g, w in zip(got2, want2):
        assert_rel_close(g, w)


def test_explicit_position_ids(tiny_models):
    d = tiny_models("l2_h64_a4", **CONFIGS["l2_h64_a4"])
    tl = Model(d, load_tokenizer=False)
    ids = [[5, 6, 7, 8, 9]]
    pos = [[3, 1, 4, 1, 5]]
    got = tl.forward(ids, position_ids=pos)[0]
    assert_rel_close(got, hf_hidden(d, ids[0], [0] * 5, None, pos[0]))
    # different positions must change the result (the test would catch ignored ids)
    assert np.abs(got - tl.forward(ids)[0]).max() > 1e-3


def test_result_does_not_depend_on_batch(tiny_models):
    d = tiny_models("l3_h96_a3", **CONFIGS["l3_h96_a3"])
    tl = Model(d, load_tokenizer=False)
    rng = np.random.default_rng(5)
    ids, tts = random_seqs(rng, 150, 16, lo=1, hi=128)
    batch = tl.forward(ids, token_type_ids=tts)
    for i in range(16):
        alone = tl.forward([ids[i]], token_type_ids=[tts[i]])[0]
        np.testing.assert_allclose(batch[i], alone, atol=1e-5, rtol=0)


def test_overlapping_forwards_on_one_model(tiny_models):
    """Forwards of different sizes from several threads at once on one model (the kept
    activation arena must not be shared between them) equal the same forwards run alone."""
    from concurrent.futures import ThreadPoolExecutor

    d = tiny_models("l3_h96_a3", **CONFIGS["l3_h96_a3"])
    tl = Model(d, load_tokenizer=False)
    rng = np.random.default_rng(9)
    jobs = [random_seqs(rng, 150, int(n), lo=1, hi=128) for n in rng.integers(1, 12, size=24)]
    alone = [tl.forward(ids, token_type_ids=tts) for ids, tts in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda j: tl.forward(j[0], token_type_ids=j[1]), jobs * 3))
    for i, got in enumerate(together):
        want = alone[i % len(jobs)]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-5, rtol=0)


def test_reference_gemm_matches_blas(tiny_models, monkeypatch):
    """TORCHLESS_GEMM=ref (the scalar oracle) and the BLAS path agree."""
    d = tiny_models("l2_h64_a4", **CONFIGS["l2_h64_a4"])
    ids = [[1, 2, 3, 4, 5, 6, 7], [9, 8, 7]]
    fast = Model(d, load_tokenizer=False).forward(ids)
    monkeypatch.setenv("TORCHLESS_GEMM", "ref")
    ref_model = Model(d, load_tokenizer=False)
    assert "linear_ref" in ref_model.describe()
    ref = ref_model.forward(ids)
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_forward_rejects_bad_ids(tiny_models):
    from torchless import TorchlessError

    d = tiny_models("l2_h64_a4", **CONFIGS["l2_h64_a4"])
    tl = Model(d, load_tokenizer=False)
    with pytest.raises(TorchlessError, match="input id 100000 outside"):
        tl.forward([[1, 100000]])
    with pytest.raises(TorchlessError, match="token type id 7 outside"):
        tl.forward([[1, 2]], token_type_ids=[[0, 7]])
    with pytest.raises(TorchlessError, match=r"has 129 tokens, the model allows at most 128"):
        tl.forward([[1] * 129])
