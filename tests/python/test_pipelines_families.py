"""Task heads of every encoder family with a head layout (src/model/heads_table.c) against
transformers: tiny random *ForSequenceClassification, *ForTokenClassification and
*ForMaskedLM models (head parameters scaled x20) of roberta, xlm-roberta, camembert,
distilbert, electra, albert, mpnet, deberta-v2 and modernbert (mean pooling), saved with the trained WordPiece tokenizer.json; the
torchless pipelines' logits / probabilities must equal the torch model's on the same ids."""
import numpy as np
import pytest

TEXTS = ["", "a", "hello world", "the quick brown fox jumps over the lazy dog",
         "café naïve résumé über straße", "numbers 0 1 2 3 42 3.14", "东京 北京 上海",
         "machine learning models transform text into vectors"]
MASKED = ["the [MASK] fox", "[MASK]", "hello [MASK] world [MASK]", "a journey of a [MASK] miles"]

from tiny_models import FAMILIES as ALL_FAMILIES
from tiny_models import FAMILY_BASE as BASE
from tiny_models import NO_TYPE_IDS

FAMILIES = {k: v for k, v in ALL_FAMILIES.items() if k != "bert"}  # BERT: test_pipelines_bert.py
LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}


def build(path, family, head):
    """Saves a tiny random <Family>For<head> with the WordPiece tokenizer; returns (dir, model, tok)."""
    import torch
    import transformers
    from tiny_models import train_wordpiece

    prefix, extra = FAMILIES[family]
    tok = train_wordpiece()
    cfg_kw = dict(extra, vocab_size=tok.get_vocab_size(), pad_token_id=0)
    if family != "distilbert":
        cfg_kw = {**BASE, **cfg_kw}
    if head != "MaskedLM":
        cfg_kw.update(id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    cfg = getattr(transformers, prefix + "Config")(**cfg_kw)
    torch.manual_seed(3)
    model = getattr(transformers, f"{prefix}For{head}")(cfg).eval()
    base = model.base_model_prefix + "."
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
                p.add_(torch.randn_like(p) * 0.2)
            if not name.startswith(base) and "embeddings" not in name:
                p.mul_(20.0 if head != "MaskedLM" or "LayerNorm" in name or "layer_norm" in name else 1.0)
    model.save_pretrained(path, safe_serialization=True)
    tok.save(str(path / "tokenizer.json"))
    return path, model, tok


def torch_logits(model, tok, text, family):
    import torch

    enc = tok.encode(text)
    kw = {"input_ids": torch.tensor([enc.ids])}
    if family not in NO_TYPE_IDS:
        kw["token_type_ids"] = torch.tensor([enc.type_ids])
    with torch.no_grad():
        return model(**kw).logits[0].numpy(), enc


@pytest.mark.parametrize("family", list(FAMILIES))
def test_sequence_classification_head(tmp_path, family):
    import torchless

    d, model, tok = build(tmp_path, family, "SequenceClassification")
    pipe = torchless.pipeline(model=str(d))
    assert pipe.task == "text-classification"
    for text in TEXTS:
        ref, _ = torch_logits(model, tok, text, family)
        got = {g["label"]: g["score"] for g in pipe(text, top_k=None, function_to_apply="none")}
        # raw logits of a head scaled x20 reach the hundreds, and a small one can be the
        # difference of large terms: compare to 1e-4 of the logits' magnitude
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose([got[LABELS[i]] for i in range(len(ref))], ref, rtol=1e-4, atol=1e-4 * scale)
        assert np.ptp(ref) > 0.5


@pytest.mark.parametrize("family", list(FAMILIES))
def test_token_classification_head(tmp_path, family):
    import torchless

    d, model, tok = build(tmp_path, family, "TokenClassification")
    pipe = torchless.pipeline(model=str(d), ignore_labels=[])
    for text in TEXTS:
        ref, enc = torch_logits(model, tok, text, family)
        probs = np.exp(ref - ref.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        got = pipe(text)
        want = [(i, LABELS[int(probs[i].argmax())], float(probs[i].max()))
                for i in range(len(enc.ids)) if not enc.special_tokens_mask[i]]
        assert [(g["index"], g["entity"]) for g in got] == [(i, e) for i, e, _ in want]
        np.testing.assert_allclose([g["score"] for g in got], [s for _, _, s in want], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_masked_lm_head(tmp_path, family):
    import torchless

    d, model, tok = build(tmp_path, family, "MaskedLM")
    pipe = torchless.pipeline(model=str(d))
    assert pipe.task == "fill-mask"
    V = tok.get_vocab_size()
    mask = tok.token_to_id("[MASK]")
    for text in MASKED:
        ref, enc = torch_logits(model, tok, text, family)
        rows = [i for i, t in enumerate(enc.ids) if t == mask]
        got = pipe(text, top_k=V)
        got = [got] if len(rows) == 1 else got
        for r, props in zip(rows, got):
            p = np.exp(ref[r] - ref[r].max())
            p /= p.sum()
            ours = np.zeros(V)
            for g in props:
                ours[g["token"]] = g["score"]
            np.testing.assert_allclose(ours, p, rtol=1e-4, atol=1e-6)
            assert props[0]["token"] == int(p.argmax())
