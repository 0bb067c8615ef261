"""Duplicate JSON keys resolve as Python's json (and transformers, tokenizers) resolve them:
the last value wins. config.json and tokenizer.json written with duplicate keys must give
the same outputs as transformers / tokenizers, which read them through json / serde."""
import json
import shutil

import numpy as np
import pytest
import tokenizers
import torch

from torchless import Model
from torchless.tokenizer import Tokenizer

TEXTS = ["Hello World", "hello world", "The QUICK brown fox.", "café Über", "x"]


def _with_duplicate(text: str, inner: str, extra: str) -> str:
    """text with `extra` (a `"key": value` member) appended inside the JSON object `inner`."""
    assert text.count(inner) == 1
    return text.replace(inner, inner[:-1] + ", " + extra + "}")


@pytest.fixture(scope="module")
def minilm_json(minilm_dir):
    return json.loads((minilm_dir / "tokenizer.json").read_text())


def _tokenizer_cases(t):
    """name -> tokenizer.json text with duplicate keys."""
    txt = json.dumps(t)
    norm = json.dumps(t["normalizer"])
    vocab = json.dumps(t["model"]["vocab"])
    v = t["model"]["vocab"]
    return {
        # a member of a nested object given twice
        "normalizer_field": _with_duplicate(txt, norm, '"lowercase": false'),
        # a top-level member given twice (the second a whole different normalizer)
        "top_level": txt[:-1] + ', "normalizer": {"type": "Lowercase"}, '
                     '"truncation": {"max_length": 5, "strategy": "LongestFirst", "stride": 0, '
                     '"direction": "Right"}}',
        # a vocabulary entry given twice: the later id wins (the hash table of >8 keys)
        "vocab_entry": _with_duplicate(txt, vocab, '"hello": %d' % v["world"]),
    }


@pytest.mark.parametrize("case", ["normalizer_field", "top_level", "vocab_entry"])
def test_tokenizer_json_duplicates(tmp_path, minilm_json, case):
    text = _tokenizer_cases(minilm_json)[case]
    p = tmp_path / "tokenizer.json"
    p.write_text(text)
    ref = tokenizers.Tokenizer.from_file(str(p))
    ours = Tokenizer.from_file(str(p))
    assert json.loads(text) != minilm_json  # the duplicate changed what Python reads
    for s in TEXTS:
        a, b = ours.encode(s), ref.encode(s)
        assert a.ids == b.ids, (case, s)
        assert a.offsets == b.offsets, (case, s)


def test_tokenizer_duplicates_differ_from_first_wins(tmp_path, minilm_json):
    """The cases above are not vacuous: with the first value the ids would differ."""
    text = _tokenizer_cases(minilm_json)["normalizer_field"]
    p = tmp_path / "tokenizer.json"
    p.write_text(text)
    orig = tokenizers.Tokenizer.from_str(json.dumps(minilm_json))
    assert Tokenizer.from_file(str(p)).encode("Hello World").ids != orig.encode("Hello World").ids


def test_config_json_duplicates(tmp_path, tiny_models):
    """config.json giving hidden_act and layer_norm_eps twice: the model must compute with
    the last values, as transformers' BertModel does."""
    src = tiny_models("dup_cfg", layers=1, hidden=32, heads=2, seed=11)
    d = tmp_path / "m"
    shutil.copytree(src, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.pop("hidden_act")
    cfg.pop("layer_norm_eps")
    text = json.dumps(cfg)[:-1] + (', "hidden_act": "relu", "layer_norm_eps": 0.5, '
                                   '"hidden_act": "gelu", "layer_norm_eps": 1e-12}')
    (d / "config.json").write_text(text)
    assert json.loads(text)["hidden_act"] == "gelu"
    from transformers import BertModel

    hf = BertModel.from_pretrained(d, add_pooling_layer=False, torch_dtype=torch.float32).eval()
    assert hf.config.hidden_act == "gelu" and hf.config.layer_norm_eps == 1e-12
    ids = [[2, 17, 40, 99, 3], [2, 5, 3]]
    got = Model(d, load_tokenizer=False).forward(ids)
    for g, seq in zip(got, ids):
        with torch.inference_mode():
            want = hf(input_ids=torch.tensor([seq])).last_hidden_state[0].numpy()
        err = np.abs(np.asarray(g) - want) / np.maximum(np.abs(want), 1.0)
        assert err.max() <= 1e-4


def test_duplicate_option_keys_last_wins_in_pipeline_and_cli(tmp_path, cli):
    """Pipeline creation options (C API, CLI --options) resolve duplicates as Python's json."""
    import subprocess

    import torchless
    from tiny_models import build_tiny_bert_task

    d = build_tiny_bert_task(tmp_path, "mlm", seed=4)
    opts = '{"top_k": 1, "top_k": 3}'
    out = subprocess.run([str(cli), "run", "--model", str(d), "--task", "fill-mask", "--options", opts,
                          "--format", "json", "hello [MASK] ."], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout.strip().splitlines()[-1])) == 3
    assert len(torchless.pipeline("fill-mask", model=str(d))("hello [MASK] .", top_k=3)) == 3
