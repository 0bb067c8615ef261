"""Numbers that are not numbers: NaN or Inf in a weight is refused at load naming the
tensor (documented in docs/c-api.md); a forward whose output would hold NaN / Inf fails
with TL_ERR_NUMERIC (TorchlessNumericError) instead of returning it."""
import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from torchless import Model, TorchlessError, TorchlessNumericError, pipeline


@pytest.fixture(scope="module")
def tiny(tiny_models):
    return tiny_models("numeric_tiny", layers=1, hidden=32, heads=2, seed=4)


def _with_weight(tmp_path, src, name, fn):
    d = tmp_path / "m"
    shutil.copytree(src, d)
    t = load_file(str(d / "model.safetensors"))
    assert name in t, sorted(t)
    t[name] = fn(t[name].copy())
    save_file(t, str(d / "model.safetensors"))
    return d


def _poke(value, index=(0, 1)):
    def fn(a):
        a[index if a.ndim == 2 else index[1]] = value
        return a
    return fn


@pytest.mark.parametrize("name", ["encoder.layer.0.attention.self.query.weight",
                                  "encoder.layer.0.attention.self.key.bias",
                                  "embeddings.word_embeddings.weight",
                                  "encoder.layer.0.output.LayerNorm.weight"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_weight_refused_at_load(tmp_path, tiny, name, value):
    d = _with_weight(tmp_path, tiny, name, _poke(value))
    with pytest.raises(TorchlessError) as e:
        Model(d, load_tokenizer=False)
    msg = str(e.value)
    assert name in msg and "non-finite" in msg and "model.safetensors" in msg, msg


def test_forward_producing_inf_is_an_error(tmp_path, tiny):
    """Finite but huge embeddings overflow in the first LayerNorm: the forward must say so."""
    d = _with_weight(tmp_path, tiny, "embeddings.word_embeddings.weight", lambda a: a * 0 + 3e38)
    m = Model(d, load_tokenizer=False)
    with pytest.raises(TorchlessNumericError) as e:
        m.forward([[2, 5, 3], [4, 6]])
    assert isinstance(e.value, FloatingPointError)
    assert e.value.status == "TL_ERR_NUMERIC" and "sequence 0 token 0" in str(e.value), str(e.value)
    with pytest.raises(TorchlessNumericError):  # no bare nan in a pipeline's JSON either
        pipeline("feature-extraction", model=str(d))("hello world")
