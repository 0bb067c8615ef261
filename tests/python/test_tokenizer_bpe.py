"""Parity of the C tokenizer's byte-level BPE with Hugging Face `tokenizers`: GPT-2-style
(ByteLevel pre-tokenizer + ByteLevel post-processor) and RoBERTa-style (RobertaProcessing,
trim_offsets, add_prefix_space, <mask> with lstrip), trained in-process, plus the legacy
vocab.json + merges.txt layout against transformers' GPT2TokenizerFast / RobertaTokenizerFast."""
import json
import random

import pytest
import tokenizers
from tokenizers import AddedToken, decoders, models, pre_tokenizers, processors, trainers

from test_tokenizer_parity import HANDWRITTEN, _compare, _random_strings
from torchless.tokenizer import Tokenizer


def training_corpus(seed=3, n=4000):
    rnd = random.Random(seed)
    words = [w for s in HANDWRITTEN for w in s.split() if w] + [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on",
        "hello", "world", "token", "tokenizer", "running", "quickly", "über", "naïve", "中文",
        "日本語", "한국어", "русский", "العربية", "हिन्दी", "ไทย", "😀", "👍🏽", "1234", "3.14", "don't"]
    return [" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 14))) for _ in range(n)]


def texts_for(seed, n_random=600):
    return HANDWRITTEN + training_corpus(seed, 300) + _random_strings(seed, n_random)


def _save_pair(tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    ref = tokenizers.Tokenizer.from_file(str(path))
    ref.no_padding(); ref.no_truncation()
    ours = Tokenizer.from_file(str(path))
    ours.no_padding(); ours.no_truncation()
    assert ours.get_vocab_size() == ref.get_vocab_size()
    return ours, ref


def gpt2_like(add_prefix_space=False, trim_offsets=True, vocab_size=1200, **bpe):
    tok = tokenizers.Tokenizer(models.BPE(**bpe))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=trim_offsets)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_corpus(), trainer)
    return tok


def roberta_like(add_prefix_space=False, trim_offsets=True):
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_corpus(5), trainer)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=trim_offsets,
                                                      add_prefix_space=add_prefix_space)
    return tok


@pytest.mark.parametrize("aps,trim", [(False, True), (True, True), (False, False), (True, False)])
def test_gpt2_style(tmp_path, aps, trim):
    ours, ref = _save_pair(gpt2_like(aps, trim), tmp_path)
    _compare(ours, ref, texts_for(1), lengths=(None, 16))


@pytest.mark.parametrize("aps,trim", [(False, True), (True, True), (True, False)])
def test_roberta_style(tmp_path, aps, trim):
    ours, ref = _save_pair(roberta_like(aps, trim), tmp_path)
    extra = ["Hello <mask> world", "<mask>", "  <mask>  ", "a<mask>b", "<s> x </s>", " leading space",
             "trailing space ", "\u3000wide space", "é é", "  two  spaces  "]
    _compare(ours, ref, extra + texts_for(2), lengths=(None, 16))


def test_bpe_options(tmp_path):
    """continuing_subword_prefix, end_of_word_suffix, unk fusing, no byte-level."""
    tok = tokenizers.Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##",
                                          end_of_word_suffix="</w>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]"], continuing_subword_prefix="##",
                                  end_of_word_suffix="</w>", show_progress=False, limit_alphabet=200)
    # tokens holding U+0000 are not supported (see docs/tokenizers.md): keep NUL out of the vocab
    tok.train_from_iterator([t.replace("\x00", "") for t in training_corpus(8)], trainer)
    ours, ref = _save_pair(tok, tmp_path)
    _compare(ours, ref, texts_for(3), lengths=(None,))


def test_bpe_ignore_merges_and_no_unk(tmp_path):
    tok = gpt2_like(vocab_size=800)
    j = json.loads(tok.to_str())
    j["model"]["ignore_merges"] = True
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "tokenizer.json").write_text(json.dumps(j))
    ref = tokenizers.Tokenizer.from_file(str(tmp_path / "a" / "tokenizer.json"))
    ours = Tokenizer.from_file(str(tmp_path / "a" / "tokenizer.json"))
    _compare(ours, ref, texts_for(4, 200), lengths=(None,))
    # plain BPE without byte-level and without unk: unknown chars are dropped
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(training_corpus(9, 500), trainers.BpeTrainer(vocab_size=300, show_progress=False,
                                                                         limit_alphabet=60))
    (tmp_path / "b").mkdir()
    ours, ref = _save_pair(tok, tmp_path / "b")
    _compare(ours, ref, texts_for(5, 200), lengths=(None,))


@pytest.mark.parametrize("kind,config", [("gpt2", None), ("gpt2", {"add_prefix_space": True}),
                                         ("roberta", {"tokenizer_class": "RobertaTokenizer"}),
                                         ("roberta", {"tokenizer_class": "RobertaTokenizer", "add_prefix_space": True})])
def test_legacy_vocab_json_merges(tmp_path, kind, config):
    from transformers import GPT2TokenizerFast, RobertaTokenizerFast

    src = gpt2_like() if kind == "gpt2" else roberta_like()
    src.model.save(str(tmp_path))  # vocab.json + merges.txt
    if config is not None:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    hf = (GPT2TokenizerFast if kind == "gpt2" else RobertaTokenizerFast).from_pretrained(str(tmp_path))
    ref = hf.backend_tokenizer
    ref.no_padding(); ref.no_truncation()
    ours = Tokenizer.from_pretrained(str(tmp_path))
    assert ours.get_vocab_size() == ref.get_vocab_size()
    _compare(ours, ref, ["Hello <mask> world", "<s>a</s>", "<|endoftext|> x"] + texts_for(6, 300), lengths=(None, 16))
