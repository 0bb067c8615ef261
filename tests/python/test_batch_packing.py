"""The one packer (src/tasks/text_batch.c): every task hands the encoder the token type ids
transformers' model receives. A one-type model (RoBERTa-style, type_vocab_size 1) whose
tokenizer template marks tokens with type id 1 gets no token_type_ids from its tokenizer
in transformers (model_input_names lacks them), so the model sees zeros; tl_embed and
tl_extract_features once packed the encoding's type ids and failed on such a model while
the pipelines passed none."""
import json

import numpy as np
import pytest

import torchless
from torchless import Model
from tiny_models import build_family_task

TEXTS = ["hello world", "the quick brown fox", "a", "numbers 1 2 3 and more words here"]


@pytest.fixture(scope="module")
def one_type_model(tmp_path_factory):
    """A tiny RoBERTa (type_vocab_size 1) whose template gives every token type id 1."""
    from tokenizers import Tokenizer, processors

    d = build_family_task(tmp_path_factory.mktemp("roberta-types"), "roberta", "base", seed=3)
    assert json.loads((d / "config.json").read_text())["type_vocab_size"] == 1
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    cls, sep = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:1 $A:1 </s>:1", pair="<s>:1 $A:1 </s>:1 $B:1 </s>:1",
        special_tokens=[("<s>", cls), ("</s>", sep)])
    tok.save(str(d / "tokenizer.json"))
    assert set(tok.encode("hello world").type_ids) == {1}
    return d


def reference_hidden(d, texts):
    """transformers: the tokenizer's inputs (no token_type_ids) into the model, per text."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(d))
    model = AutoModel.from_pretrained(str(d)).eval()
    out = []
    for t in texts:
        enc = tok(t, return_tensors="pt")
        assert "token_type_ids" not in enc
        with torch.no_grad():
            out.append(model(**enc).last_hidden_state[0].numpy())
    return out


def test_extract_features_gives_one_type_model_zero_type_ids(one_type_model):
    want = reference_hidden(one_type_model, TEXTS)
    got = Model(one_type_model).extract_features(TEXTS)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, atol=1e-4, rtol=1e-4)


def test_feature_extraction_pipeline_agrees(one_type_model):
    want = reference_hidden(one_type_model, TEXTS)
    got = torchless.pipeline("feature-extraction", model=str(one_type_model))(TEXTS)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g)[0], w, atol=1e-4, rtol=1e-4)


def test_embed_gives_one_type_model_zero_type_ids(one_type_model):
    from sentence_transformers import SentenceTransformer

    want = SentenceTransformer(str(one_type_model), device="cpu").encode(TEXTS, convert_to_numpy=True)
    got = Model(one_type_model).embed(TEXTS)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)
