"""Sentence-embedding parity with sentence-transformers for every pooling mode, with and
without Normalize, on a tiny random BERT dressed as a sentence-transformers model."""
import json
import shutil

import numpy as np
import pytest

from torchless import Model

MODES = ["cls", "max", "mean", "mean_sqrt_len", "weightedmean", "lasttoken"]
KEYS = {"cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens",
        "mean": "pooling_mode_mean_tokens", "mean_sqrt_len": "pooling_mode_mean_sqrt_len_tokens",
        "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}

TEXTS = ["", "a", "hello world", "the quick brown fox jumps over the lazy dog " * 3,
         "café naïve", "numbers 1 2 3", "東京 北京", "punctuation! (yes)?", "x " * 100]


def dress(base, dest, modes, normalize, max_seq_length=None):
    """Copies a tiny model dir and writes sentence-transformers' module files."""
    shutil.copytree(base, dest)
    mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        mods.append({"idx": 2, "name": "2", "path": "2_Normalize",
                     "type": "sentence_transformers.models.Normalize"})
        (dest / "2_Normalize").mkdir()
    (dest / "modules.json").write_text(json.dumps(mods))
    (dest / "1_Pooling").mkdir()
    hidden = json.loads((base / "config.json").read_text())["hidden_size"]
    cfg = {"word_embedding_dimension": hidden, **{KEYS[m]: (m in modes) for m in MODES}}
    (dest / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
    if max_seq_length:
        (dest / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}))
    return dest


@pytest.mark.parametrize("modes,normalize", [(["mean"], True)] + [([m], False) for m in MODES]
                         + [(["cls", "max", "mean"], True), (MODES, False)])
def test_pooling_matches_sentence_transformers(tiny_models, tmp_path, modes, normalize):
    from sentence_transformers import SentenceTransformer

    base = tiny_models("l2_h64_a4_pool", layers=2, hidden=64, heads=4, seed=21)
    d = dress(base, tmp_path / "st", modes, normalize, max_seq_length=32)
    want = SentenceTransformer(str(d), device="cpu").encode(TEXTS, convert_to_numpy=True)
    m = Model(d)
    assert m.embedding_dim == 64 * len(modes)
    got = m.embed(TEXTS)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_model_without_modules_json_uses_mean_pooling(tiny_models):
    """A plain transformers checkpoint gets sentence-transformers' defaults: mean pooling."""
    from sentence_transformers import SentenceTransformer

    d = tiny_models("l2_h64_a4_pool", layers=2, hidden=64, heads=4, seed=21)
    want = SentenceTransformer(str(d), device="cpu").encode(TEXTS[:5], convert_to_numpy=True)
    got = Model(d).embed(TEXTS[:5])
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_unsupported_module_is_a_clear_error(tiny_models, tmp_path):
    from torchless import TorchlessError

    base = tiny_models("l2_h64_a4_pool", layers=2, hidden=64, heads=4, seed=21)
    d = dress(base, tmp_path / "dense", ["mean"], False)
    mods = json.loads((d / "modules.json").read_text())
    mods.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (d / "modules.json").write_text(json.dumps(mods))
    with pytest.raises(TorchlessError, match=r"modules.json: sentence-transformers module 'sentence_transformers.models.Dense' is not supported"):
        Model(d)
