"""Values of the wrong type or out of range are errors naming the file and the field, never
a silent default or a wrapped integer: config.json fields, tokenizer.json's padding and
truncation, attention masks and ids passed to forward, padding lengths; errors found while
encoding name the tokenizer file whose content caused them."""
import json
import shutil

import pytest

from torchless import Model, TorchlessError
from torchless.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def tiny(tiny_models):
    return tiny_models("values_tiny", layers=1, hidden=32, heads=2, seed=3)


def _with_config(tmp_path, src, **changes):
    d = tmp_path / "m"
    shutil.copytree(src, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(changes)
    (d / "config.json").write_text(json.dumps(cfg))
    return d


CONFIG_CASES = {
    "hidden_act_number": ({"hidden_act": 5}, "hidden_act"),
    "model_type_number": ({"model_type": 5}, "model_type"),
    "position_embedding_type_list": ({"position_embedding_type": ["absolute"]}, "position_embedding_type"),
    "pad_token_id_past_2_31": ({"pad_token_id": 2**31 + 5}, "pad_token_id"),
    "pad_token_id_negative": ({"pad_token_id": -1}, "pad_token_id"),
    "pad_token_id_string": ({"pad_token_id": "0"}, "pad_token_id"),
    "layers_negative": ({"num_hidden_layers": -1}, "num_hidden_layers"),
    "layers_zero": ({"num_hidden_layers": 0}, "num_hidden_layers"),
    "layers_absurd": ({"num_hidden_layers": 10**9}, "num_hidden_layers"),
    "layers_fraction": ({"num_hidden_layers": 1.5}, "num_hidden_layers"),
    "heads_zero": ({"num_attention_heads": 0}, "num_attention_heads"),
    "heads_not_dividing": ({"num_attention_heads": 3}, "not a multiple of num_attention_heads"),
    "hidden_huge": ({"hidden_size": 2**40}, "hidden_size"),
    "positions_huge": ({"max_position_embeddings": 2**62}, "max_position_embeddings"),
    "vocab_huge": ({"vocab_size": 2**40}, "vocab_size"),
    "type_vocab_negative": ({"type_vocab_size": -2}, "type_vocab_size"),
    "layer_norm_eps_string": ({"layer_norm_eps": "1e-12"}, "layer_norm_eps"),
    "layer_norm_eps_negative": ({"layer_norm_eps": -1.0}, "layer_norm_eps"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_config_value_errors(tmp_path, tiny, case):
    changes, field = CONFIG_CASES[case]
    d = _with_config(tmp_path, tiny, **changes)
    with pytest.raises(TorchlessError) as e:
        Model(d, load_tokenizer=False)
    msg = str(e.value)
    assert "config.json" in msg and field in msg, msg


def test_config_vocab_mismatch_before_allocating(tmp_path, tiny):
    """A vocab_size larger than the weights (but within the limit) is refused from the
    shapes, not by allocating it."""
    d = _with_config(tmp_path, tiny, vocab_size=2**26)
    with pytest.raises(TorchlessError) as e:
        Model(d, load_tokenizer=False)
    assert "word_embeddings" in str(e.value) or "vocab" in str(e.value), str(e.value)


@pytest.mark.parametrize("mask_value", [2, -1, 7])
def test_attention_mask_must_be_0_or_1(tiny, mask_value):
    m = Model(tiny, load_tokenizer=False)
    with pytest.raises(TorchlessError) as e:
        m.forward([[2, 5, 6, 3]], attention_mask=[[1, 1, mask_value, 1]])
    assert "attention_mask" in str(e.value) and str(mask_value) in str(e.value)
    m.forward([[2, 5, 6, 3]], attention_mask=[[1, 1, 0, 1]])  # 0 and 1 still work


@pytest.mark.parametrize("name", ["input_ids", "attention_mask", "token_type_ids"])
def test_forward_values_past_int32_are_refused(tiny, name):
    m = Model(tiny, load_tokenizer=False)
    kw = {"input_ids": [[2, 5, 3]]}
    kw[name] = [[2, 2**32 + 5, 3]]
    with pytest.raises(ValueError) as e:
        m.forward(**kw)
    assert name in str(e.value) and "32 bits" in str(e.value)


def _tok_json(tiny, tmp_path, mutate):
    j = json.loads((tiny / "tokenizer.json").read_text())
    mutate(j)
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(j))
    return p


TOKENIZER_CASES = {
    "pad_id_past_2_31": (lambda j: j.update(padding={"strategy": "BatchLongest", "pad_id": 2**32 + 1}),
                         "padding.pad_id"),
    "pad_type_id_negative": (lambda j: j.update(padding={"strategy": "BatchLongest", "pad_type_id": -1}),
                             "padding.pad_type_id"),
    "pad_token_number": (lambda j: j.update(padding={"strategy": "BatchLongest", "pad_token": 0}),
                         "padding.pad_token"),
    "fixed_negative": (lambda j: j.update(padding={"strategy": {"Fixed": -4}}), "padding.strategy.Fixed"),
    "max_length_negative": (lambda j: j.update(truncation={"max_length": -1, "strategy": "LongestFirst",
                                                           "stride": 0}), "truncation.max_length"),
    "stride_string": (lambda j: j.update(truncation={"max_length": 8, "strategy": "LongestFirst",
                                                     "stride": "2"}), "truncation.stride"),
}


@pytest.mark.parametrize("case", sorted(TOKENIZER_CASES))
def test_tokenizer_json_value_errors(tmp_path, tiny, case):
    import tokenizers

    mutate, field = TOKENIZER_CASES[case]
    p = _tok_json(tiny, tmp_path, mutate)
    with pytest.raises(ValueError) as e:
        Tokenizer.from_file(str(p))
    assert str(p) in str(e.value) and field in str(e.value), str(e.value)
    with pytest.raises(Exception):  # tokenizers refuses these files too
        tokenizers.Tokenizer.from_file(str(p))


@pytest.mark.parametrize("setting", [{"length": 2**62}, {"pad_to_multiple_of": 2**62},
                                     {"pad_to_multiple_of": 2**64 - 1}, {"length": 10**6 + 1}])
def test_padding_length_is_bounded(tiny, setting):
    tok = Tokenizer.from_file(str(tiny / "tokenizer.json"))
    tok.enable_padding(**setting)
    for call in (lambda: tok.encode("hello world"), lambda: tok.encode_batch(["hello", "world"])):
        with pytest.raises(TorchlessError) as e:
            call()
        assert "max_padded_length" in str(e.value) or "overflows" in str(e.value), str(e.value)
    tok.max_padded_length = 2**64 - 1 if setting.get("length") == 10**6 + 1 else 0
    if setting.get("length") == 10**6 + 1:  # settable: raised, a million-and-one pads work
        assert len(tok.encode("hello world")) == 10**6 + 1


@pytest.mark.parametrize("value", [2**31, -1, True])
def test_enable_padding_ids_checked(tiny, value):
    tok = Tokenizer.from_file(str(tiny / "tokenizer.json"))
    with pytest.raises(ValueError):
        tok.enable_padding(pad_id=value)


def test_encode_error_names_tokenizer_file(tmp_path, tiny):
    """A WordPiece unk_token missing from its vocabulary fails on the first unknown word,
    naming the tokenizer.json."""
    p = _tok_json(tiny, tmp_path, lambda j: j["model"].update(unk_token="[NOT-THERE]"))
    tok = Tokenizer.from_file(str(p))
    with pytest.raises(TorchlessError) as e:
        tok.encode("zzzzqqqq")
    assert str(p) in str(e.value) and "[NOT-THERE]" in str(e.value), str(e.value)


@pytest.mark.parametrize("field, value", [("eos_token_id", 5.02819e23), ("bos_token_id", 1.5), ("eos_token_id", "2")])
def test_decoder_token_ids_out_of_range_are_named(tmp_path, field, value):
    """A decoder config's eos / bos id that is not an int32 is an error naming the field
    (the config fuzzer found 5e23 converted to int: undefined behaviour)."""
    import json as _json

    from tiny_models import build_tiny_gpt2_lm
    from torchless import Model

    d = build_tiny_gpt2_lm(tmp_path)
    cfg = _json.loads((d / "config.json").read_text())
    cfg[field] = value
    (d / "config.json").write_text(_json.dumps(cfg))
    with pytest.raises(ValueError, match=f"config.json: {field} must be a token id"):
        Model(str(d), load_tokenizer=False)
