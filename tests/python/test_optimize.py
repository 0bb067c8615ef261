"""torchless.optimize on live transformers models and on directories: parity with the
model's own forward, zero-copy weights, padding modes, clear errors."""
import numpy as np
import pytest
import torch

import torchless
from tiny_models import build_tiny_encoder

BERT = dict(vocab_size=120, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=80, max_position_embeddings=64)


def live(model_class, seed=0, **cfg):
    import transformers

    cls = getattr(transformers, model_class)
    torch.manual_seed(seed)
    m = cls(cls.config_class(**cfg)).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.2)
    return m


def padded_batch(vocab, pad_id=0, seed=3):
    rng = np.random.default_rng(seed)
    lens = [5, 17, 1, 30]
    L = max(lens)
    ids = np.full((len(lens), L), pad_id, dtype=np.int64)
    mask = np.zeros((len(lens), L), dtype=np.int64)
    for b, n in enumerate(lens):
        ids[b, :n] = rng.integers(2, vocab, size=n)
        mask[b, :n] = 1
    types = (rng.integers(0, 2, size=ids.shape) * mask).astype(np.int64)
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(types)


def rel_err(got, want):
    return float((np.abs(got - want) / np.maximum(np.abs(want), 1.0)).max())


@pytest.mark.parametrize("model_class,cfg", [
    ("BertModel", BERT),
    ("BertForMaskedLM", BERT),
    ("RobertaModel", dict(BERT, type_vocab_size=1, pad_token_id=1, max_position_embeddings=66)),
    ("DistilBertModel", dict(vocab_size=120, dim=48, n_layers=2, n_heads=4, hidden_dim=80,
                             max_position_embeddings=64)),
    # padded queries: DeBERTa masks whole rows and zeroes masked embeddings
    ("DebertaV2Model", dict(BERT, relative_attention=True, position_buckets=16, share_att_key=True,
                            norm_rel_ebd="layer_norm", position_biased_input=False,
                            pos_att_type=["p2c", "c2p"])),
    ("ModernBertModel", dict(BERT, local_attention=8, pad_token_id=0, bos_token_id=2, eos_token_id=3,
                             cls_token_id=2, sep_token_id=3)),
])
def test_live_model_matches_its_forward_at_every_position(model_class, cfg):
    m = live(model_class, **cfg)
    pad = cfg.get("pad_token_id", 0)
    ids, mask, types = padded_batch(cfg["vocab_size"], pad_id=pad)
    kw = dict(input_ids=ids, attention_mask=mask)
    if model_class.startswith("Bert"):
        kw["token_type_ids"] = types
    base = m.base_model if hasattr(m, "base_model") else m
    with torch.inference_mode():
        want = base(**kw).last_hidden_state.numpy()
    # a task model's encoder output is asked for explicitly (its head is the default); every
    # position, padding included, needs padding="compute" (the default skips padding)
    fast = torchless.optimize(model=m, task="feature-extraction" if "For" in model_class else None,
                              padding="compute")
    got = fast(**kw)["last_hidden_state"]
    assert isinstance(got, torch.Tensor) and tuple(got.shape) == want.shape
    assert rel_err(got.numpy(), want) <= 1e-4
    # numpy in, numpy out
    got_np = fast(**{k: v.numpy() for k, v in kw.items()})["last_hidden_state"]
    assert isinstance(got_np, np.ndarray) and rel_err(got_np, want) <= 1e-4


def test_skip_padding_equals_on_real_tokens_and_zeros_elsewhere():
    m = live("BertModel", **BERT)
    ids, mask, types = padded_batch(120)
    with torch.inference_mode():
        want = m(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state.numpy()
    got = torchless.optimize(model=m, padding="skip")(input_ids=ids, attention_mask=mask,
                                                      token_type_ids=types)["last_hidden_state"].numpy()
    real = mask.numpy().astype(bool)
    assert rel_err(got[real], want[real]) <= 1e-4
    assert np.all(got[~real] == 0)


def test_fp32_weights_are_used_in_place_not_copied():
    m = live("BertModel", **BERT)
    fast = torchless.optimize(model=m)
    ids = torch.tensor([[5, 6, 7, 8]])
    before = fast(input_ids=ids)["last_hidden_state"].clone()
    with torch.no_grad():  # an FFN weight: torchless reads it from torch's own memory
        m.encoder.layer[0].output.dense.weight.mul_(2.0)
        want = m(input_ids=ids).last_hidden_state
    after = fast(input_ids=ids)["last_hidden_state"]
    assert (after - before).abs().max() > 1e-3
    assert rel_err(after.numpy(), want.numpy()) <= 1e-4


def test_bf16_live_model_is_converted():
    m = live("BertModel", **BERT).to(torch.bfloat16)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    want = m.float()(input_ids=ids).last_hidden_state.detach().numpy()
    m = m.to(torch.bfloat16)
    got = torchless.optimize(model=m)(input_ids=ids)["last_hidden_state"].numpy()
    assert rel_err(got, want) <= 1e-4


def test_directory_and_inside_forward_signature(tmp_path):
    d = build_tiny_encoder(tmp_path / "bert", "BertModel", BERT, seed=4)
    import transformers

    hf = transformers.AutoModel.from_pretrained(d).eval()
    ids = torch.tensor([[3, 4, 5, 6, 7, 8]])
    with torch.inference_mode():
        want = hf(input_ids=ids).last_hidden_state.numpy()
    out = torchless.optimize(model=str(d))(ids, return_dict=False)[0]
    assert rel_err(out.numpy(), want) <= 1e-4


def test_clear_errors():
    with pytest.raises(ValueError, match="pass model="):
        torchless.optimize()
    with pytest.raises(ValueError, match="task 'summarization' has no logits head"):
        torchless.optimize(task="summarization", model=live("BertModel", **BERT))
    with pytest.raises(torchless.TorchlessError, match="no such directory|not found"):
        torchless.optimize(model="/nonexistent/model")
    with pytest.raises(ValueError, match="input_ids is required"):
        torchless.optimize(model=live("BertModel", **BERT))()
    # a base model has no head: asking for one names the missing tensor
    with pytest.raises(torchless.TorchlessError, match="missing tensor"):
        torchless.optimize(task="text-classification", model=live("BertModel", **BERT))


ROBERTA = dict(BERT, type_vocab_size=1, pad_token_id=1, max_position_embeddings=66)
DEBERTA = dict(BERT, relative_attention=True, position_buckets=16, share_att_key=True,
               norm_rel_ebd="layer_norm", position_biased_input=False, pos_att_type=["p2c", "c2p"])
MODERN = dict(BERT, local_attention=8, pad_token_id=0, bos_token_id=2, eos_token_id=3, cls_token_id=2,
              sep_token_id=3)
DISTIL = dict(vocab_size=120, dim=48, n_layers=2, n_heads=4, hidden_dim=80, max_position_embeddings=64)


@pytest.mark.parametrize("model_class,cfg", [
    ("BertForSequenceClassification", dict(BERT, num_labels=3)),
    ("BertForTokenClassification", dict(BERT, num_labels=5)),
    ("BertForQuestionAnswering", BERT),
    ("BertForMaskedLM", BERT),
    ("RobertaForSequenceClassification", dict(ROBERTA, num_labels=4)),
    ("RobertaForMaskedLM", ROBERTA),
    ("DistilBertForSequenceClassification", dict(DISTIL, num_labels=2)),
    ("DistilBertForMaskedLM", DISTIL),
    ("ElectraForSequenceClassification", dict(BERT, embedding_size=32, num_labels=3)),
    ("AlbertForMaskedLM", dict(BERT, embedding_size=32)),
    ("MPNetForSequenceClassification", dict(BERT, num_labels=3, pad_token_id=1)),
    ("MPNetForMaskedLM", dict(BERT, pad_token_id=1)),
    ("MPNetForTokenClassification", dict(BERT, num_labels=4, pad_token_id=1)),
    ("MPNetForQuestionAnswering", dict(BERT, pad_token_id=1)),
    ("DebertaV2ForSequenceClassification", dict(DEBERTA, num_labels=3)),
    ("DebertaV2ForSequenceClassification", dict(DEBERTA, num_labels=2, pooler_hidden_act="tanh")),
    ("DebertaV2ForMaskedLM", DEBERTA),  # legacy: cls.predictions.*
    ("DebertaV2ForMaskedLM", dict(DEBERTA, embedding_size=32)),  # legacy transform to embedding_size
    ("DebertaV2ForMaskedLM", dict(DEBERTA, legacy=False)),  # lm_predictions.lm_head.*
    ("DebertaV2ForTokenClassification", dict(DEBERTA, num_labels=4)),
    ("DebertaV2ForQuestionAnswering", DEBERTA),
    ("ModernBertForSequenceClassification", dict(MODERN, num_labels=3)),
    # masked mean pooling over the padded batch, optional biases, another head activation
    ("ModernBertForSequenceClassification", dict(MODERN, num_labels=3, classifier_pooling="mean",
                                                 classifier_bias=True, norm_bias=True,
                                                 classifier_activation="silu")),
    ("ModernBertForMaskedLM", MODERN),
    ("ModernBertForMaskedLM", dict(MODERN, decoder_bias=False)),
    ("ModernBertForTokenClassification", dict(MODERN, num_labels=4)),
    ("ModernBertForQuestionAnswering", MODERN),
    ("ElectraForPreTraining", dict(BERT, embedding_size=32)),  # discriminator: one logit per token
])
def test_task_head_logits_match_transformers(model_class, cfg):
    m = live(model_class, **cfg)
    with torch.no_grad():  # head weights x10 so logits are large and any error shows
        for name, p in m.named_parameters():
            if not name.startswith(m.base_model_prefix + ".") and "norm" not in name.lower():
                p.mul_(10.0)
    pad = cfg.get("pad_token_id", 0)
    ids, mask, types = padded_batch(cfg["vocab_size"], pad_id=pad)
    kw = dict(input_ids=ids, attention_mask=mask)
    with torch.inference_mode():
        want = m(**kw)
    got = torchless.optimize(model=m, padding="compute")(**kw)  # every position, padding included
    keys = ["start_logits", "end_logits"] if "QuestionAnswering" in model_class else ["logits"]
    assert sorted(got) == sorted(keys)
    for k in keys:
        assert tuple(got[k].shape) == tuple(want[k].shape), k
        assert rel_err(got[k].numpy(), want[k].numpy()) <= 1e-4, k


def test_bladedisc_fill_mask_example(tmp_path):
    """optimize(task='fill-mask', model=AutoModelForMaskedLM.from_pretrained(M))(**inputs)['logits']"""
    from tiny_models import build_tiny_bert
    from transformers import AutoModelForMaskedLM, AutoTokenizer, BertForMaskedLM, PreTrainedTokenizerFast

    d = build_tiny_bert(tmp_path / "base", seed=9)
    torch.manual_seed(9)
    mlm = BertForMaskedLM.from_pretrained(d)  # base weights + a fresh MLM head
    mlm.save_pretrained(tmp_path / "mlm")
    tok = PreTrainedTokenizerFast(tokenizer_file=str(d / "tokenizer.json"), mask_token="[MASK]",
                                  pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", unk_token="[UNK]")
    model = AutoModelForMaskedLM.from_pretrained(tmp_path / "mlm").eval()
    inputs = tok(["the quick brown [MASK] jumps", "hello world"], return_tensors="pt", padding=True)
    with torch.inference_mode():
        want = model(**inputs)["logits"]
    got = torchless.optimize(task="fill-mask", model=model)(**inputs)["logits"]
    real = inputs["attention_mask"].numpy().astype(bool)  # the default skips padding: zeros there
    assert not real.all() and np.all(got.numpy()[~real] == 0)
    assert rel_err(got.numpy()[real], want.numpy()[real]) <= 1e-4


# ---------------------------------------------------------- inside transformers.pipeline

PIPE_TEXTS = ["", "a", "hello world", "the quick brown fox jumps over the lazy dog", "café naïve résumé",
              "numbers 0 1 2 3 42 3.14", "东京 北京 上海", "HELLO, World!", "don't stop", "emoji 🙂 here",
              " ".join(["the quick brown fox jumps over the lazy dog"] * 12)]


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    from tiny_models import build_tiny_bert_task

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = build_tiny_bert_task(tmp_path_factory.mktemp(name), name, seed=len(cache) + 11)
        return cache[name]

    return get


def hf_and_optimized_pipelines(task, d, live_model, **kw):
    """transformers.pipeline on the model itself, and on torchless.optimize of it (live or path)."""
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(d)
    ref = transformers.pipeline(task, model=str(d), **kw)
    if live_model:
        auto = {"fill-mask": transformers.AutoModelForMaskedLM, "token-classification":
                transformers.AutoModelForTokenClassification}.get(task, transformers.AutoModelForSequenceClassification)
        fast = torchless.optimize(model=auto.from_pretrained(d).eval())
    else:
        fast = torchless.optimize(model=str(d))
    return ref, transformers.pipeline(task, model=fast, tokenizer=tok, **kw)


def assert_same(want, got):
    from test_pipelines_bert import assert_close

    assert_close(want, got)


@pytest.mark.parametrize("live_model", [True, False])
@pytest.mark.parametrize("task,name,kw", [
    ("text-classification", "seq-cls", dict(top_k=None)),
    ("text-classification", "seq-cls-multi", {}),
    ("fill-mask", "mlm", dict(top_k=3)),
    ("token-classification", "token-cls", dict(aggregation_strategy="simple")),
])
def test_optimized_model_inside_transformers_pipeline(task_dir, task, name, kw, live_model, caplog):
    import logging

    d = task_dir(name)
    with caplog.at_level(logging.ERROR):
        ref, fast = hf_and_optimized_pipelines(task, d, live_model)
    assert not [r for r in caplog.records if "is not supported" in r.getMessage()]
    texts = PIPE_TEXTS[:-1] if task != "fill-mask" else [
        "the [MASK] fox", "[MASK]", "hello [MASK] world [MASK]", "a journey of a [MASK] miles",
        "café [MASK]", "[MASK] [MASK] [MASK]"]
    if task == "token-classification":
        texts = [t for t in texts if t]  # transformers' token-classification fails on ""
    for batch_size in (1, 4):  # 4: padded batches through the pipeline's collate
        assert_same(ref(texts, batch_size=batch_size, **kw), fast(texts, batch_size=batch_size, **kw))
    assert_same(ref(texts[3], **kw), fast(texts[3], **kw))


def test_optimized_model_quacks_like_a_pretrained_model():
    m = live("BertForSequenceClassification", **dict(BERT, num_labels=3))
    fast = torchless.optimize(model=m)
    assert type(fast).__name__ == "BertForSequenceClassification"
    assert isinstance(fast, torchless.OptimizedModel) and not fast.can_generate()
    assert fast.config is m.config and fast.base_model_prefix == "bert"
    assert fast.device == torch.device("cpu") and fast.dtype == torch.float32
    assert fast.to("cpu") is fast and fast.eval() is fast
    with pytest.raises(ValueError, match="CPU only"):
        fast.to("cuda:0")
    out = fast(input_ids=torch.tensor([[2, 5, 6, 3]]))
    assert out.logits is out["logits"] is out[0] and out.to_tuple() == (out.logits,)
    # transformers' own output class (transformers is imported): fields not computed are None
    assert type(out).__name__ == "SequenceClassifierOutput" and out.hidden_states is None
    with pytest.raises(AttributeError):
        out.no_such_field
