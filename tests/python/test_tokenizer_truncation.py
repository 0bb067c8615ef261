"""Parity of truncation strategies, stride, direction and overflowing encodings (and
sequence ids, padding) with Hugging Face `tokenizers`, for singles and pairs, on every
post-processor kind: BertProcessing-like templates (MiniLM), TemplateProcessing, ByteLevel,
RobertaProcessing (trim_offsets), an XLM-R-style template, and no post-processor."""
import json
import random

import pytest
import tokenizers

from test_tokenizer_bpe import gpt2_like, roberta_like, training_corpus
from test_tokenizer_parity import FIELDS, HANDWRITTEN, _random_strings
from torchless import TorchlessError
from torchless.tokenizer import Tokenizer

ALL = FIELDS + ("sequence_ids",)


def _fields(e):
    out = {}
    for f in ALL:
        v = getattr(e, f)
        out[f] = [tuple(x) for x in v] if f == "offsets" else list(v)
    return out


def check_encoding(ours, ref, what, path="", drop=False):
    """Every field of the encoding and, recursively, of each overflowing window (windows
    of pairs have windows of their own in tokenizers) must match; with drop (our
    drop_overflowing) the encoding must match and have no windows."""
    a, b = _fields(ours), _fields(ref)
    for f in ALL:
        assert a[f] == b[f], f"{path}{f} differ for {what!r}:\n ours {a[f]}\n   hf {b[f]}"
    if drop:
        assert ours.overflowing == [], f"windows made with drop_overflowing for {what!r}"
        return
    assert len(ours.overflowing) == len(ref.overflowing), f"{path}overflowing count differs for {what!r}"
    for k, (x, y) in enumerate(zip(ours.overflowing, ref.overflowing)):
        check_encoding(x, y, what, f"{path}overflowing[{k}].")


def nested_count(e):
    """Number of windows below the first level of e's overflowing tree."""
    return sum(len(o.overflowing) + nested_count(o) for o in e.overflowing)


def _encode_both(ours, ref, x, y, special):
    """Runs both; returns (ours, ref), or None when both raise (tokenizers' errors and
    panics are our TorchlessError INVALID_ARG)."""
    try:
        r = ref.encode(x, y, add_special_tokens=special)
    except BaseException as e:  # pyo3 PanicException derives from BaseException
        if isinstance(e, KeyboardInterrupt):
            raise
        with pytest.raises(TorchlessError) as te:
            ours.encode(x, y, add_special_tokens=special)
        assert te.value.status == "TL_ERR_INVALID_ARG"
        return None
    return ours.encode(x, y, add_special_tokens=special), r


def compare_truncation(ours, ref, singles, pairs, configs, drop=False):
    n = 0
    ours.drop_overflowing = drop
    for max_len, stride, strategy, direction in configs:
        try:
            ref.enable_truncation(max_len, stride=stride, strategy=strategy, direction=direction)
        except ValueError:
            with pytest.raises(ValueError):
                ours.enable_truncation(max_len, stride=stride, strategy=strategy, direction=direction)
            continue
        ours.enable_truncation(max_len, stride=stride, strategy=strategy, direction=direction)
        assert ours.truncation == ref.truncation
        for special in (True, False):
            for x in singles:
                got = _encode_both(ours, ref, x, None, special)
                if got:
                    check_encoding(*got, (x, max_len, stride, strategy, direction, special), drop=drop)
                    n += 1
            for x, y in pairs:
                got = _encode_both(ours, ref, x, y, special)
                if got:
                    check_encoding(*got, (x, y, max_len, stride, strategy, direction, special), drop=drop)
                    n += 1
    ours.no_truncation()
    ref.no_truncation()
    ours.drop_overflowing = False
    return n


def _texts(seed, n):
    rnd = random.Random(seed)
    base = training_corpus(seed, 200) + [s for s in HANDWRITTEN if s] + _random_strings(seed, 100)
    singles = [rnd.choice(base) + " " + rnd.choice(base) for _ in range(n)]
    pairs = [(rnd.choice(base), " ".join(rnd.choice(base) for _ in range(rnd.randint(1, 4)))) for _ in range(n)]
    pairs += [("", rnd.choice(base)), (rnd.choice(base), ""), ("", "")]
    return singles, pairs


CONFIGS = [(m, s, st, d) for m in (1, 2, 3, 5, 8, 13, 32) for s in (0, 1, 2, 4, 7)
           for st in ("longest_first", "only_first", "only_second") for d in ("right", "left")
           if s < m + 2]


def _both(path):
    ref = tokenizers.Tokenizer.from_file(str(path))
    ref.no_padding(); ref.no_truncation()
    ours = Tokenizer.from_file(str(path))
    ours.no_padding(); ours.no_truncation()
    return ours, ref


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return _both(minilm_dir / "tokenizer.json")


def test_minilm_truncation(minilm):
    ours, ref = minilm
    singles, pairs = _texts(1, 12)
    assert compare_truncation(ours, ref, singles, pairs, CONFIGS) > 5000


def test_drop_overflowing(minilm):
    """drop_overflowing (what the tasks use): the same kept tokens as tokenizers' truncation
    for every strategy, stride and direction, singles and pairs, and no windows; a single
    text cut on the right stops tokenizing early (long texts included)."""
    ours, ref = minilm
    singles, pairs = _texts(3, 6)
    n = compare_truncation(ours, ref, singles, pairs, CONFIGS[::5], drop=True)
    rnd = random.Random(9)
    words = training_corpus(4, 100)
    long = [" ".join(rnd.choice(words) for _ in range(k)) for k in (50, 150)]
    long += ["[CLS] " * 40 + "x", "a" * 5000 + " b", "héllo " * 300]
    configs = [(m, 0, st, d) for m in (5, 32) for st in ("longest_first", "only_second")
               for d in ("right", "left")]
    n += compare_truncation(ours, ref, long, [(x, "short pair") for x in long], configs, drop=True)
    assert n > 500


@pytest.mark.parametrize("kind", ["gpt2_aps", "roberta"])
def test_drop_overflowing_byte_level(tmp_path, kind):
    tok = {"gpt2_aps": lambda: gpt2_like(True), "roberta": lambda: roberta_like()}[kind]()
    tok.save(str(tmp_path / "tokenizer.json"))
    ours, ref = _both(tmp_path / "tokenizer.json")
    singles, pairs = _texts(2, 6)
    singles += ["  leading spaces here and more words " * 30, "trailing   spaces   everywhere   "]
    assert compare_truncation(ours, ref, singles, pairs, CONFIGS[::3], drop=True) > 300


def test_qa_style_windows(minilm):
    """Question + long context, only_second with stride: the question-answering layout."""
    ours, ref = minilm
    rnd = random.Random(5)
    ctx = [" ".join(rnd.choice(training_corpus(7, 100)) for _ in range(k)) for k in (1, 5, 20, 60)]
    pairs = [(q, c) for q in ("What is it?", "Who?", "") for c in ctx]
    configs = [(m, s, "only_second", "right") for m in (16, 32, 64, 384) for s in (0, 3, 8, 128)]
    configs += [(m, s, "longest_first", d) for m in (16, 64) for s in (0, 5) for d in ("right", "left")]
    assert compare_truncation(ours, ref, [], pairs, configs) > 50


@pytest.mark.parametrize("kind", ["gpt2", "gpt2_aps", "roberta", "roberta_aps"])
def test_byte_level_truncation(tmp_path, kind):
    tok = {"gpt2": lambda: gpt2_like(), "gpt2_aps": lambda: gpt2_like(True),
           "roberta": lambda: roberta_like(), "roberta_aps": lambda: roberta_like(True)}[kind]()
    tok.save(str(tmp_path / "tokenizer.json"))
    ours, ref = _both(tmp_path / "tokenizer.json")
    singles, pairs = _texts(2, 6)
    singles += ["  leading spaces here and more words", "trailing   spaces   everywhere   "]
    compare_truncation(ours, ref, singles, pairs, CONFIGS[::3])


def test_template_and_no_postprocessor(tmp_path, minilm_dir):
    """A template whose pair type ids are all 0 (XLM-R style, windows keep model type ids),
    and a tokenizer without any post-processor (sequence ranges absent)."""
    ref = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ref.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] [SEP] $B:0 [SEP]",
        special_tokens=[("[CLS]", 101), ("[SEP]", 102)])
    ref.save(str(tmp_path / "tpl.json"))
    ours, ref = _both(tmp_path / "tpl.json")
    singles, pairs = _texts(3, 6)
    compare_truncation(ours, ref, singles, pairs, CONFIGS[::2])
    ref3 = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    j = json.loads(ref3.to_str())
    j["post_processor"] = None
    (tmp_path / "nopp.json").write_text(json.dumps(j))
    ours, ref = _both(tmp_path / "nopp.json")
    compare_truncation(ours, ref, singles, pairs, CONFIGS[::2])


@pytest.mark.parametrize("direction", ["right", "left"])
def test_padding_with_overflow(minilm, direction):
    ours, ref = minilm
    for o, r in ((ours, ref),):
        o.enable_truncation(12, stride=3, strategy="longest_first")
        r.enable_truncation(12, stride=3, strategy="longest_first")
    for length, mult in ((None, None), (20, None), (None, 8), (3, None)):
        ours.enable_padding(direction=direction, pad_id=7, pad_type_id=1, pad_token="<p>", length=length,
                            pad_to_multiple_of=mult)
        ref.enable_padding(direction=direction, pad_id=7, pad_type_id=1, pad_token="<p>", length=length,
                           pad_to_multiple_of=mult)
        batch = ["short", "a much longer sentence with many many words in it " * 2, ("q?", "ctx " * 9), "",
                 ("a b c d e f g h i j", "k l m n o p q r s t u")]  # both overflow: nested windows, padded
        for x, y in zip(ours.encode_batch(batch), ref.encode_batch(batch)):
            check_encoding(x, y, ("batch", length, mult, direction))
        for t in batch:
            args = t if isinstance(t, tuple) else (t,)
            check_encoding(ours.encode(*args), ref.encode(*args), ("single", t, length, mult))
    ours.no_padding(); ref.no_padding(); ours.no_truncation(); ref.no_truncation()


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
def test_nested_overflowing(minilm, strategy):
    """Pairs whose both sequences overflow: tokenizers' merge_with gives windows their own
    overflowing windows; the whole tree must match, through encode and encode_batch."""
    ours, ref = minilm
    rnd = random.Random(6)
    words = training_corpus(8, 50)
    pairs = [(" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 6))),
              " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 6)))) for _ in range(40)]
    pairs += [("a b c d e f g h", "i j k l m n o p")]
    nested = 0
    for max_len, stride in ((9, 1), (12, 0), (16, 3), (24, 5)):
        ours.enable_truncation(max_len, stride=stride, strategy=strategy)
        ref.enable_truncation(max_len, stride=stride, strategy=strategy)
        for x, y in pairs:
            got = _encode_both(ours, ref, x, y, True)
            if got:
                check_encoding(*got, (x, y, max_len, stride, strategy))
                nested += nested_count(got[1])
        ok = [list(p) for p in pairs if _encode_both(ours, ref, *p, True)]
        for x, y, p in zip(ours.encode_batch(ok), ref.encode_batch(ok), ok):
            check_encoding(x, y, ("batch", p, max_len, stride, strategy))
    ours.no_truncation(); ref.no_truncation()
    # only longest_first cuts both sequences of a pair, which is what nests windows
    assert (nested > 100) if strategy == "longest_first" else (nested == 0)


def test_encode_batch_matches_encode(minilm):
    ours, ref = minilm
    singles, pairs = _texts(4, 200)
    inputs = singles + [list(p) for p in pairs]
    ours.enable_truncation(24, stride=4); ref.enable_truncation(24, stride=4)
    for threads in (1, 2, 0):
        ours.num_threads = threads
        for x, y in zip(ours.encode_batch(inputs), ref.encode_batch(inputs)):
            check_encoding(x, y, "batch")
    ours.num_threads = 0
    ours.no_truncation(); ref.no_truncation()
    with pytest.raises(TorchlessError) as e:
        ours.encode_batch(["fine", "bad \udc80 text", "fine"])
    assert "batch input 1" in e.value.message


def test_settings_errors(minilm):
    ours, ref = minilm
    with pytest.raises(ValueError):
        ours.enable_truncation(10, stride=9)
    with pytest.raises(ValueError):
        ref.enable_truncation(10, stride=9)
    with pytest.raises(ValueError):
        ours.enable_truncation(10, strategy="nope")
    ours.enable_truncation(10, strategy="only_second")
    with pytest.raises(TorchlessError) as e:
        ours.encode("a b c d e f g h i j k l m n")
    assert "only_second" in e.value.message
    ours.no_truncation()


@pytest.mark.parametrize("order", ["bytelevel_first", "template_first"])
def test_sequence_processor(tmp_path, order):
    """Sequence([ByteLevel, Template]) (Llama-3 style) and Sequence([Template, ByteLevel]),
    where ByteLevel numbers the template's pieces as sequences."""
    from tokenizers import processors
    tok = gpt2_like()
    eot = tok.token_to_id("<|endoftext|>")
    tpl = processors.TemplateProcessing(single="<|endoftext|> $A", pair="<|endoftext|> $A <|endoftext|> $B:1",
                                        special_tokens=[("<|endoftext|>", eot)])
    bl = processors.ByteLevel(trim_offsets=True)
    tok.post_processor = processors.Sequence([bl, tpl] if order == "bytelevel_first" else [tpl, bl])
    tok.save(str(tmp_path / "tokenizer.json"))
    ours, ref = _both(tmp_path / "tokenizer.json")
    singles, pairs = _texts(6, 6)
    compare_truncation(ours, ref, singles + ["  two leading", "x"], pairs, CONFIGS[::4] + [(64, 0, "longest_first", "right")])


def _unigram_metaspace(path):
    """A Unigram tokenizer with NFKC + Lowercase and Metaspace (prefix-safe stages)."""
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(training_corpus(6, 300), trainers.UnigramTrainer(
        vocab_size=3000, special_tokens=["<unk>"], unk_token="<unk>"))
    tok.save(str(path))
    return path


@pytest.mark.parametrize("kind", ["minilm", "gpt2_aps", "roberta", "unigram"])
def test_drop_overflowing_long_texts_from_a_prefix(tmp_path, minilm_dir, kind):
    """Texts over 65,536 chars cut on the right with drop_overflowing are tokenized from a
    prefix (prefix.c): the kept tokens equal tokenizers' for the whole text, including a
    first word longer than the first prefix (the retry), text without spaces, accents and
    combining marks, CJK and emoji near the cuts, and specials in the text."""
    if kind == "minilm":
        path = minilm_dir / "tokenizer.json"
    elif kind == "unigram":
        path = _unigram_metaspace(tmp_path / "tokenizer.json")
    else:
        (gpt2_like(True) if kind == "gpt2_aps" else roberta_like()).save(str(tmp_path / "tokenizer.json"))
        path = tmp_path / "tokenizer.json"
    ours, ref = _both(path)
    rnd = random.Random(13)
    base = training_corpus(8, 200) + [s for s in HANDWRITTEN if s] + _random_strings(8, 100)
    words = " ".join(rnd.choice(base) for _ in range(2000))
    assert len(words) > 70000
    texts = ["a" * 70000 + " " + words, "x" * 100000, "é" * 40000 + " e\u0301 " * 20000 + words,
             "東京 😀 " * 15000 + words, words + " [SEP] [CLS] " + words]
    configs = [(5, 0, "longest_first", "right"), (300, 0, "only_first", "right")]
    assert compare_truncation(ours, ref, texts, [], configs, drop=True) == len(texts) * len(configs) * 2
