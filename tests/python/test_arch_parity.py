"""Last-hidden-state parity of every supported encoder family with transformers, on tiny
random models (fixed seeds), through the packed forward pass."""
import numpy as np
import pytest
import torch

from tiny_models import build_tiny_encoder
from torchless import Model, TorchlessError

COMMON = dict(vocab_size=120, max_position_embeddings=64)
BERT_LIKE = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=80, **COMMON)

MODERN = dict(vocab_size=120, hidden_size=48, num_hidden_layers=4, num_attention_heads=4,
              intermediate_size=80, max_position_embeddings=300, local_attention=16,
              global_attn_every_n_layers=2, pad_token_id=0, bos_token_id=2, eos_token_id=3,
              cls_token_id=2, sep_token_id=3)

DEBERTA = dict(vocab_size=120, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=80, max_position_embeddings=64, relative_attention=True)

CASES = {
    "roberta": ("RobertaModel", dict(BERT_LIKE, type_vocab_size=1, pad_token_id=1, max_position_embeddings=66)),
    "roberta_mlm_prefixed": ("RobertaForMaskedLM", dict(BERT_LIKE, type_vocab_size=1, pad_token_id=1, max_position_embeddings=66)),
    "xlm_roberta": ("XLMRobertaModel", dict(BERT_LIKE, type_vocab_size=1, pad_token_id=1, max_position_embeddings=66, hidden_act="gelu_new")),
    "camembert": ("CamembertModel", dict(BERT_LIKE, type_vocab_size=1, pad_token_id=1, max_position_embeddings=66)),
    "electra_projected": ("ElectraModel", dict(BERT_LIKE, embedding_size=24)),
    "electra_disc_prefixed": ("ElectraForPreTraining", dict(BERT_LIKE, embedding_size=48)),
    "distilbert": ("DistilBertModel", dict(dim=48, n_layers=2, n_heads=4, hidden_dim=80, **COMMON)),
    "distilbert_cls_prefixed": ("DistilBertForSequenceClassification", dict(dim=32, n_layers=3, n_heads=2, hidden_dim=64, activation="relu", **COMMON)),
    "albert": ("AlbertModel", dict(BERT_LIKE, embedding_size=16)),
    # DeBERTa-v3 style: shared keys, log buckets (16 so offsets up to 300 use them), rel LN
    "deberta_v3": ("DebertaV2Model", dict(DEBERTA, position_buckets=16, share_att_key=True,
                                          norm_rel_ebd="layer_norm", position_biased_input=False,
                                          pos_att_type=["p2c", "c2p"], max_position_embeddings=300)),
    # DeBERTa-v2 style: separate position projections, plain offsets, token types,
    # absolute positions too, a projected embedding
    "deberta_v2_proj": ("DebertaV2Model", dict(DEBERTA, pos_att_type="c2p|p2c", type_vocab_size=2,
                                               embedding_size=32, max_relative_positions=24)),
    "deberta_c2p_only_mlm_prefixed": ("DebertaV2ForMaskedLM", dict(DEBERTA, pos_att_type=["c2p"],
                                                                    share_att_key=True, position_buckets=8)),
    "deberta_no_relative": ("DebertaV2Model", dict(DEBERTA, relative_attention=False)),
    # ModernBERT: pre-norm, RoPE, GeGLU, local window of +-8 on 2 of 3 layers
    "modernbert": ("ModernBertModel", dict(MODERN, num_hidden_layers=3, global_attn_every_n_layers=3)),
    "modernbert_biases_mlm_prefixed": ("ModernBertForMaskedLM", dict(
        MODERN, norm_bias=True, attention_bias=True, mlp_bias=True, hidden_activation="gelu_pytorch_tanh",
        global_rope_theta=1000.0, local_rope_theta=500.0)),
    # MPNet: relative position bias; 300 positions so offsets pass max_distance 128
    "mpnet": ("MPNetModel", dict(BERT_LIKE, pad_token_id=1, max_position_embeddings=300)),
    "mpnet_mlm_prefixed": ("MPNetForMaskedLM", dict(BERT_LIKE, pad_token_id=1, max_position_embeddings=40)),
    "albert_two_groups": ("AlbertModel", dict(BERT_LIKE, embedding_size=16, num_hidden_layers=4, num_hidden_groups=2)),
    "albert_mlm_prefixed": ("AlbertForMaskedLM", dict(BERT_LIKE, embedding_size=48, hidden_act="gelu")),
}


def hidden_of(model_dir, model_class, ids, type_ids=None):
    """Runs the base transformers model (the encoder of a task model) on one sequence."""
    import transformers

    m = transformers.AutoModel.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        kw = dict(input_ids=torch.tensor([ids]))
        if type_ids is not None:
            kw["token_type_ids"] = torch.tensor([type_ids])
        return m(**kw).last_hidden_state[0].numpy()


def assert_rel_close(got, want, rtol=1e-4):
    assert got.shape == want.shape
    err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    assert err.max() <= rtol, f"max relative error {err.max():.3g}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cls, cfg = CASES[name]
            cache[name] = build_tiny_encoder(tmp_path_factory.mktemp(name), cls, cfg, seed=len(name))
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(CASES))
def test_family_matches_transformers(built, name):
    import transformers

    d = built(name)
    cls, cfg = CASES[name]
    hf = transformers.AutoModel.from_pretrained(d).eval()
    tl = Model(d, load_tokenizer=False)
    rng = np.random.default_rng(7)
    vocab = cfg["vocab_size"]
    pad = cfg.get("pad_token_id", 0)
    lens = [1, 2, 5, 17, 33, tl.max_positions]
    if tl.max_positions > 100:
        lens.insert(-1, 150)
    ids = [[int(x) for x in rng.integers(2, vocab, size=n)] for n in lens]
    ids[3][4] = pad  # a padding id inside a sequence: RoBERTa positions must follow it
    default_types = 0 if "deberta" in name else 2
    use_types = cfg.get("type_vocab_size", default_types) > 1 and not any(
        k in name for k in ("distilbert", "mpnet", "modernbert"))
    types = [[int(x) for x in rng.integers(0, 2, size=n)] for n in lens] if use_types else None
    got = tl.forward(ids, token_type_ids=types)
    with torch.inference_mode():
        for i, s in enumerate(ids):
            kw = dict(input_ids=torch.tensor([s]))
            if types:
                kw["token_type_ids"] = torch.tensor([types[i]])
            want = hf(**kw).last_hidden_state[0].numpy()
            assert_rel_close(got[i], want)


def test_roberta_max_length_accounts_for_padding_offset(built):
    d = built("roberta")
    tl = Model(d, load_tokenizer=False)
    assert tl.max_positions == 66 - 1 - 1
    with pytest.raises(TorchlessError, match=r"has 65 tokens, the model allows at most 64"):
        tl.forward([[5] * 65])


def test_mpnet_buckets_match_transformers(built):
    """Bucket boundaries (powers of two, max_distance) agree with torch's float32 math,
    checked through the hidden states of a sequence long enough to reach every bucket."""
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    rel = torch.arange(-400, 401)
    buckets = MPNetEncoder.relative_position_bucket(rel)
    assert buckets.min() == 0 and buckets.max() == 31  # every bucket is exercised at 298 tokens
    test_family_matches_transformers(built, "mpnet")


def test_unsupported_type_lists_supported(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt_neox"}))
    with pytest.raises(TorchlessError) as e:
        Model(tmp_path, load_tokenizer=False)
    for t in ("bert", "roberta", "xlm-roberta", "camembert", "electra", "distilbert", "albert", "mpnet",
              "modernbert", "deberta-v2"):
        assert t in str(e.value)
