"""Parity of the C tokenizer's Unigram model, Metaspace pre-tokenizer and Precompiled /
Replace / Strip / Prepend normalizers with Hugging Face `tokenizers`: an XLM-R-style
tokenizer.json converted by transformers from a SentencePiece model trained in-process
(real nmt_nfkc precompiled_charsmap), and Unigram models trained with tokenizers'
UnigramTrainer under other Metaspace / normalizer settings (byte_fallback, unk)."""
import json
import random

import pytest
import tokenizers
from tokenizers import Regex, models, normalizers, pre_tokenizers, processors, trainers

from test_tokenizer_bpe import training_corpus
from test_tokenizer_parity import HANDWRITTEN, _compare, _random_strings
from torchless.tokenizer import Tokenizer

spm = pytest.importorskip("sentencepiece")

EXTRA = ["ﬁne ﬂow", "①②③ Ⅻ", "ｶﾀｶﾅ ﾊﾝｶｸ", "e\u0301 a\u0308 o\u0302\u0323", "  many   spaces  ", "tab\there",
         "full\u3000width", "…", "™ ® ©", "x²", "Ａｂｃ１２３", "\u200b zero width", "é" * 10, "<mask> x", "<s>y</s>"]


@pytest.fixture(scope="module")
def xlmr_dir(tmp_path_factory):
    from transformers.convert_slow_tokenizer import XLMRobertaConverter

    d = tmp_path_factory.mktemp("xlmr")
    sents = [t.replace("\x00", "") for t in training_corpus(11, 4000)]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sents), model_prefix=str(d / "sp"), vocab_size=500,
                                   model_type="unigram", character_coverage=1.0, minloglevel=2)

    class Slow:  # what XLMRobertaConverter reads from a slow tokenizer
        vocab_file = str(d / "sp.model")

        def convert_tokens_to_ids(self, t):
            return {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}[t]

    tok = XLMRobertaConverter(Slow()).converted()
    tok.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True)])
    tok.save(str(d / "tokenizer.json"))
    j = json.loads((d / "tokenizer.json").read_text())
    assert j["normalizer"]["normalizers"][0]["type"] == "Precompiled"
    assert j["normalizer"]["normalizers"][0]["precompiled_charsmap"]
    return d


def _pair(path):
    ref = tokenizers.Tokenizer.from_file(str(path))
    ref.no_padding(); ref.no_truncation()
    ours = Tokenizer.from_file(str(path))
    assert ours.get_vocab_size() == ref.get_vocab_size()
    return ours, ref


def test_xlmr_style(xlmr_dir):
    ours, ref = _pair(xlmr_dir / "tokenizer.json")
    _compare(ours, ref, EXTRA + HANDWRITTEN + training_corpus(12, 300) + _random_strings(21, 800), lengths=(None, 16))


@pytest.mark.parametrize("scheme,split,byte_fallback", [("first", True, True), ("never", True, False),
                                                         ("always", False, True)])
def test_unigram_trained(tmp_path, xlmr_dir, scheme, split, byte_fallback):
    charsmap = json.loads((xlmr_dir / "tokenizer.json").read_text())["normalizer"]["normalizers"][0]
    tok = tokenizers.Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Strip(left=True, right=False),
                                           normalizers.Replace(Regex(r"\s+"), " "),
                                           normalizers.Replace("ab", "AB"), normalizers.Prepend("_")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=split)
    alphabet = [f"<0x{b:02X}>" for b in range(256)] if byte_fallback else []
    trainer = trainers.UnigramTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>"] + alphabet,
                                      unk_token="<unk>", show_progress=False)
    tok.train_from_iterator([t.replace("\x00", "") for t in training_corpus(13, 3000)], trainer)
    j = json.loads(tok.to_str())
    j["model"]["byte_fallback"] = byte_fallback
    j["normalizer"]["normalizers"].insert(0, charsmap)  # a real Precompiled in front
    j["post_processor"] = json.loads(processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B:1 </s>:1",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))]).__getstate__())
    (tmp_path / "tokenizer.json").write_text(json.dumps(j))
    ours, ref = _pair(tmp_path / "tokenizer.json")
    _compare(ours, ref, EXTRA + HANDWRITTEN + _random_strings(22, 500), lengths=(None, 16))
