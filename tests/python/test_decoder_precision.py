"""Decoders in reduced precision (issue 13): a tiny random GPT-2 and Llama load in bf16 and
int8 (int8's accuracy guard calibrates on the decoder's logits), their logits stay close to
fp32's, lm_head is converted too (the guard's per-layer report names it) while the tied
embedding table still serves lookups, and greedy generation runs and is deterministic."""
import numpy as np
import pytest

from test_decoder_parity import CASES, built  # noqa: F401 (fixture)
from test_precision import native
from torchless import Model

PROMPTS = [[5, 17, 3, 99, 42, 7, 8], [1], list(range(10, 40))]


def cos_rows(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.min(np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)))


@pytest.mark.parametrize("precision", ["bf16", "int8"])
@pytest.mark.parametrize("name", ["gpt2_lm", "llama", "llama_tied_mha"])
def test_decoder_reduced_precision_logits_close_to_fp32(built, name, precision):  # noqa: F811
    if not native(precision):
        pytest.skip(f"{precision} is not native on this CPU")
    d = built(name)
    ref = Model(d, load_tokenizer=False)
    low = Model(d, load_tokenizer=False, precision=precision, check_accuracy=True)
    assert low.precision == precision
    acc = low.accuracy
    assert acc["checked"] and acc["n_tokens"] > 0 and acc["min_cosine"] >= 0.99, acc
    for p in PROMPTS:
        r, g = np.asarray(ref.logits([p])[0]), np.asarray(low.logits([p])[0])
        assert r.shape == g.shape
        assert cos_rows(r, g) > 0.99, (name, precision, p)
    # the per-layer report covers the output projection, converted like the others
    rows = [line.split() for line in low.describe().splitlines()]
    head = [r for r in rows if len(r) >= 3 and r[0] == "-" and r[1] == "lm_head"]
    assert head and head[0][2] == precision, low.describe()
    a = low.generate(PROMPTS, max_new_tokens=6, eos_token_id=[])
    assert a == low.generate(PROMPTS, max_new_tokens=6, eos_token_id=[])
    assert [len(x) for x in a] == [6] * len(PROMPTS)
