"""Parity with Hugging Face `tokenizers` for a Llama-3-style byte-level BPE (Split with the
Llama 3 regex + ByteLevel(use_regex=False), ignore_merges, byte_fallback, Sequence of
ByteLevel + TemplateProcessing, ByteLevel decoder), trained in-process, and a large corpus
(>= 20,000 strings, fixed seeds: many scripts, emoji/ZWJ, combining marks, controls,
whitespace runs, long words, numbers, URLs, code) through encode_batch on it and on MiniLM,
singles and pairs with truncation and stride; decoding identical."""
import random

import pytest
import tokenizers
from tokenizers import Regex, decoders, models, pre_tokenizers, processors, trainers

from test_tokenizer_bpe import training_corpus
from test_tokenizer_parity import HANDWRITTEN, _mix, _random_strings
from test_tokenizer_truncation import check_encoding, compare_truncation
from torchless import TorchlessError
from torchless.tokenizer import Tokenizer

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def big_corpus(n=20000):
    """Fixed-seed corpus: random Unicode, mixed handwritten pieces, sentences, code, URLs."""
    rnd = random.Random(2024)
    code = ["def f(x):\n    return x ** 2", "for (int i = 0; i < n; i++) { a[i] += b[i]; }",
            "SELECT * FROM t WHERE id = 42;", "<div class=\"x\">&nbsp;</div>", "x = [1, 2, 3]  # list",
            "if err != nil {\n\treturn err\n}", "fn main() { println!(\"hi\"); }"]
    urls = [f"https://example{k}.com/p/{k * 7}?q={k}&r=%20#a" for k in range(50)]
    nums = [str(rnd.randint(0, 10**rnd.randint(1, 15))) for _ in range(200)] + ["3.14159", "1e-9", "1,234,567.89"]
    extra = ["👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "e\u0301\u0302\u0303 marks", "\t\t  \n\n\r\n   spaces",
             "a" * 500, "Ελληνικά العربية हिन्दी ภาษาไทย 한국어 中文", "\x00\x01\x1f\x7f controls"]
    out = HANDWRITTEN + extra + code + urls + nums
    out += _random_strings(7001, n // 3)
    out += _mix(7002, n // 4)
    out += training_corpus(7003, n // 4)
    out += [rnd.choice(code) + " " + rnd.choice(urls) + " " + rnd.choice(nums) + " " + rnd.choice(extra)
            for _ in range(n // 10)]
    out = list(dict.fromkeys(out))  # distinct, in order
    seed = 7100
    while len(out) < n:  # top up with more random Unicode
        out = list(dict.fromkeys(out + _random_strings(seed, n - len(out))))
        seed += 1
    return out


def llama3_like():
    tok = tokenizers.Tokenizer(models.BPE(byte_fallback=True, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_corpus(31, 4000), trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    return tok


@pytest.fixture(scope="module")
def llama3(tmp_path_factory):
    path = tmp_path_factory.mktemp("llama3") / "tokenizer.json"
    llama3_like().save(str(path))
    ref = tokenizers.Tokenizer.from_file(str(path))
    ours = Tokenizer.from_file(str(path))
    for t in (ref, ours):
        t.no_padding(); t.no_truncation()
    assert ours.get_vocab_size() == ref.get_vocab_size()
    return ours, ref


def _batch_compare(ours, ref, inputs):
    for k, (x, y) in enumerate(zip(ours.encode_batch(inputs), ref.encode_batch(inputs))):
        check_encoding(x, y, inputs[k])


def test_corpus_size():
    assert len(set(big_corpus())) >= 20000


def test_llama3_corpus(llama3):
    ours, ref = llama3
    texts = big_corpus()
    _batch_compare(ours, ref, texts)
    rnd = random.Random(3)
    pairs = [[rnd.choice(texts), rnd.choice(texts)] for _ in range(2000)]
    ours.enable_truncation(48, stride=8); ref.enable_truncation(48, stride=8)
    _batch_compare(ours, ref, pairs + texts[:2000])
    ours.no_truncation(); ref.no_truncation()
    ids = [e.ids for e in ref.encode_batch(texts[:3000])]
    assert ours.decode_batch(ids) == ref.decode_batch(ids)
    assert ours.decode_batch(ids, skip_special_tokens=False) == ref.decode_batch(ids, skip_special_tokens=False)


def test_llama3_truncation(llama3):
    ours, ref = llama3
    texts = big_corpus()[::400]
    pairs = list(zip(texts[::2], texts[1::2]))
    configs = [(m, s, st, "right") for m in (4, 16, 64) for s in (0, 2)
               for st in ("longest_first", "only_first", "only_second")]
    compare_truncation(ours, ref, texts, pairs, configs)


def test_minilm_corpus(minilm_dir):
    ref = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ours = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    for t in (ref, ours):
        t.no_padding(); t.no_truncation()
    # all of them, including marks newer than tokenizers' NFD tables (U+0EBA, U+A82C:
    # class 9 for utf8proc, a starter for tokenizers) next to other combining marks
    texts = big_corpus()
    assert len(texts) >= 20000 and sum("\u0eba" in t or "\ua82c" in t for t in texts) >= 5
    _batch_compare(ours, ref, texts)
    rnd = random.Random(4)
    partners = texts[:]
    rnd.shuffle(partners)
    # every text once as the first and once as the second sequence of a pair
    ours.enable_truncation(64, stride=16); ref.enable_truncation(64, stride=16)
    _batch_compare(ours, ref, [[a, b] for a, b in zip(texts, partners)])
    pairs = [[rnd.choice(texts), rnd.choice(texts)] for _ in range(2000)]
    pairs += [[t, t] for t in texts if "\u0eba" in t or "\ua82c" in t]
    ours.enable_truncation(64, stride=16, strategy="only_second")
    ref.enable_truncation(64, stride=16, strategy="only_second")
    ok = []
    for p in pairs:  # only_second fails (or panics) on short pairs: keep what tokenizers accepts
        try:
            ref.encode(*p)
            ok.append(p)
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            with pytest.raises(TorchlessError):
                ours.encode(*p)
    _batch_compare(ours, ref, ok)
    ids = [e.ids for e in ref.encode_batch(texts[:3000])]
    assert ours.decode_batch(ids) == ref.decode_batch(ids)
