"""Parity of torchless.Tokenizer (the C tokenizer) with Hugging Face `tokenizers`: every
field of every encoding (ids, type ids, tokens, offsets, masks, word ids) must be equal,
for all-MiniLM-L6-v2's tokenizer.json, a cased WordPiece trained here, and the legacy
vocab.txt layout against transformers' BertTokenizerFast."""
import json
import random
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

import tokenizers  # noqa: E402
from tokenizers import models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

from torchless import TorchlessError  # noqa: E402
from torchless.tokenizer import Tokenizer  # noqa: E402

FIELDS = ("ids", "type_ids", "tokens", "offsets", "attention_mask", "special_tokens_mask", "word_ids")

HANDWRITTEN = [
    "", "a", "A", " ", "   ", "\t", "\n", "\r\n", " \t\n\u3000 ", "x", ".", "!", "?!", "...",
    "Hello world", "Hello, world!", "hello   world", "  leading and trailing  ",
    "The quick brown fox jumps over the lazy dog.",
    "café", "Café au lait", "Ñandú", "Å", "Ångström", "naïve résumé façade", "crème brûlée",
    "e\u0301", "cafe\u0301", "a\u0301\u0316", "o\u0308\u0304", "\u0301", "\u0301abc", "x\u20dd",
    "中文字符", "我爱北京天安门", "日本語のテキスト", "カタカナ ひらがな", "ｶﾀｶﾅ", "한국어 텍스트", "안녕하세요",
    "العربية نص", "مرحبا بالعالم", "हिन्दी पाठ", "नमस्ते दुनिया", "ภาษาไทย", "สวัสดีครับ",
    "Ελληνικά", "Русский текст", "עברית", "ქართული", "Ꭰ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟘𝟙𝟚",
    "😀", "😀😃😄", "I ❤️ you", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏿‍💻", "🥰", "🫠", "a😀b",
    "\x00", "a\x00b", "\x01\x02\x03", "\x7f", "\u200b", "a\u200db", "\ufeffBOM", "\ufffd", "a\ufffdb",
    "\u00ad", "soft\u00adhyphen", "\u0085", "line\u2028sep", "para\u2029sep", "\x0b\x0c",
    "tab\tseparated\tvalues", "new\nlines\nhere", "mixed \t\n whitespace",
    "a" * 99, "a" * 100, "a" * 101, "b" * 150, "supercalifragilisticexpialidocious" * 4,
    "é" * 101, "x" * 300 + " short",
    "https://www.example.com/path?query=1&b=2#frag", "mailto:someone@example.org",
    "def f(x): return x**2  # comment", "if (a && b) { c = d[0]; }", "<html><body>hi</body></html>",
    "printf(\"%d\\n\", x);", "$HOME/.cache", "C:\\Windows\\System32",
    "123", "3.14159", "1,000,000", "-42", "1e-10", "0x1F", "2024-01-01T00:00:00Z", "½ ¾ ² ³",
    "[MASK]", "[SEP]", "[CLS]", "[PAD]", "[UNK]", "hello [MASK] world", "[MASK][MASK]",
    "a[MASK]b", "[mask]", "[ MASK ]", "[SEP] in the middle [SEP]", "[CLS]start", "end[SEP]",
    "[MASK", "MASK]", "[[MASK]]", "x [UNK] y",
    "MiXeD CaSe TeXt", "ALL CAPS", "camelCaseWord", "snake_case_word", "kebab-case-word",
    "İstanbul", "İİİ", "ıi", "I\u0307", "ß", "Straße", "STRASSE", "ẞ", "ǅ", "ﬁ ligature", "Ω Ωmega",
    "ﬀ", "Σίσυφος", "ΌΣΟΣ", "ǰ", "\u1e9e", "K", "Å",
    "don't", "it's", "rock'n'roll", "U.S.A.", "e.g.", "Mr. Smith", "(parenthesized)", "\"quoted\"",
    "«guillemets»", "„Anführungszeichen“", "¿Qué?", "¡Hola!", "…", "—dash—", "–", "·", "§", "¶",
    "#hashtag", "@mention", "100%", "$5.00", "€10", "£", "¥", "₹", "~tilde~", "`backtick`",
    "a-b_c.d,e;f:g", "!!!???", "😀.😀", "中.文",
    "\U0001F600\U0001F600 \U0001F600", "\U000E0001", "\U000F0000", "\uE000", "\U0010FFFD",
    "\u0378", "\U00030000", "\U0002A6DF", "\u9FFF", "\u3400", "\uF900", "\U0002F800",
    "\u0890", "\u08e2", "\U000110CD", "\U00013430",
    "\u1c89", "\ua7cb", "\U00010D50", "\U00011938",
]


def _mix(seed, n):
    rnd = random.Random(seed)
    words = [s for s in HANDWRITTEN if s and len(s) < 40]
    out = []
    for _ in range(n):
        k = rnd.randint(1, 6)
        out.append(rnd.choice([" ", "", "\t", "  "]).join(rnd.choice(words) for _ in range(k)))
    return out


# code point pools for random strings (mixes scripts, marks, controls, emoji, unassigned)
POOLS = [
    (0x20, 0x7E), (0x00, 0x1F), (0x80, 0x24F), (0x300, 0x36F), (0x370, 0x52F), (0x590, 0x6FF),
    (0x900, 0xDFF), (0xE00, 0xEFF), (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x206F),
    (0x2070, 0x2BFF), (0x3000, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA000, 0xABFF),
    (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0xF900, 0xFFFD), (0x10000, 0x1FFFF), (0x1F300, 0x1FAFF),
    (0x20000, 0x2FFFF), (0x30000, 0x10FFFF),
]


def _random_strings(seed, n):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        length = rnd.randint(0, 40)
        chars = []
        for _ in range(length):
            r = rnd.random()
            if r < 0.25:
                chars.append(" ")
            elif r < 0.35:
                chars.append(rnd.choice(["[MASK]", "[SEP]", "##", "\u0301", "\u200d", "\ufe0f"]))
            else:
                lo, hi = rnd.choice(POOLS)
                c = rnd.randint(lo, hi)
                if 0xD800 <= c <= 0xDFFF:
                    c = 0x41
                chars.append(chr(c))
        out.append("".join(chars))
    return out


def _check_same(ours, ref, what):
    for f in FIELDS:
        a, b = getattr(ours, f), getattr(ref, f)
        a = [tuple(x) for x in a] if f == "offsets" else list(a)
        b = [tuple(x) for x in b] if f == "offsets" else list(b)
        assert a == b, f"{f} differ for {what!r}:\n ours {a}\n   hf {b}\n tokens ours {ours.tokens}\n tokens hf {ref.tokens}"


def _compare(ours, ref, texts, pairs=True, lengths=(None, 8, 16, 256)):
    n = 0
    for max_len in lengths:
        if max_len is None:
            ours.no_truncation(); ref.no_truncation()
        else:
            ours.enable_truncation(max_len); ref.enable_truncation(max_len)
        for i, t in enumerate(texts):
            for special in (True, False):
                _check_same(ours.encode(t, add_special_tokens=special), ref.encode(t, add_special_tokens=special),
                             (t, max_len, special))
                n += 1
            if pairs:
                p = texts[(i * 7 + 3) % len(texts)]
                _check_same(ours.encode(t, p), ref.encode(t, p), (t, p, max_len))
                n += 1
    ours.no_truncation(); ref.no_truncation()
    return n


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    ref = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ref.no_padding(); ref.no_truncation()
    ours = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ours.no_padding(); ours.no_truncation()
    return ours, ref


def test_corpus_is_large_enough():
    assert len(HANDWRITTEN) + len(_mix(1, 200)) >= 300


def test_minilm_handwritten(minilm):
    ours, ref = minilm
    assert _compare(ours, ref, HANDWRITTEN) > 1000


def test_minilm_mixed(minilm):
    ours, ref = minilm
    _compare(ours, ref, _mix(1234, 200))


def test_minilm_random_unicode(minilm):
    ours, ref = minilm
    texts = _random_strings(20240601, 3000)
    _compare(ours, ref, texts, lengths=(None,))
    _compare(ours, ref, texts[:600], lengths=(8, 16))


def test_truncation_edges(minilm):
    ours, ref = minilm
    a, b = "one two three four five six seven", "alpha beta gamma delta"
    for max_len in range(0, 16):
        ours.enable_truncation(max_len); ref.enable_truncation(max_len)
        for x, y in ((a, b), (b, a), (a, a), (a, ""), ("", b), ("x y", "p q")):
            _check_same(ours.encode(x, y), ref.encode(x, y), (x, y, max_len))
            _check_same(ours.encode(x, y, add_special_tokens=False),
                        ref.encode(x, y, add_special_tokens=False), (x, y, max_len))
    ours.no_truncation(); ref.no_truncation()


def test_batch_padding_and_settings_from_file(minilm_dir):
    ref = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ours = Tokenizer.from_pretrained(str(minilm_dir))  # keeps tokenizer.json's truncation + padding
    texts = ["short", "a much longer sentence " * 40, ("question?", "context " * 3)]
    for x, y in zip(ours.encode_batch(texts), ref.encode_batch(texts)):
        _check_same(x, y, "batch")
    ours.no_padding(); ref.no_padding()
    for x, y in zip(ours.encode_batch(texts), ref.encode_batch(texts)):
        _check_same(x, y, "batch")


def test_vocab_lookups(minilm):
    ours, ref = minilm
    assert ours.get_vocab_size() == ref.get_vocab_size()
    for tok in ("[CLS]", "[SEP]", "[MASK]", "hello", "##ing", "nonexistenttoken", "中"):
        assert ours.token_to_id(tok) == ref.token_to_id(tok)
    for i in (0, 1, 100, 101, 102, 103, 999, 2000, 30521, 30522, 99999):
        assert ours.id_to_token(i) == ref.id_to_token(i)


def test_invalid_utf8_and_context_manager(minilm_dir):
    with Tokenizer.from_file(str(minilm_dir / "tokenizer.json")) as tok:
        with pytest.raises(TorchlessError) as e:
            tok.encode("ab\udc80cd")  # a lone surrogate: invalid UTF-8 once encoded
        assert e.value.status == "TL_ERR_INVALID_ARG" and "byte offset 2" in e.value.message
        with pytest.raises(TorchlessError) as e:
            tok.encode(b"ok \xff")
        assert "byte offset 3" in e.value.message
    with pytest.raises(ValueError):
        tok.encode("closed")


def test_load_errors(tmp_path):
    with pytest.raises(TorchlessError) as e:
        Tokenizer.from_file(str(tmp_path / "missing" / "tokenizer.json"))
    assert e.value.status == "TL_ERR_IO"
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "WordPiece", "vocab": ')
    with pytest.raises(TorchlessError) as e:
        Tokenizer.from_file(str(bad))
    assert e.value.status == "TL_ERR_FORMAT" and str(bad) in e.value.message


# ------------------------------------------------------------------ cased WordPiece

def _corpus(seed=7, n=3000):
    rnd = random.Random(seed)
    base = [w for s in HANDWRITTEN for w in s.split() if w] + [
        "The", "Quick", "Brown", "FOX", "jumps", "Über", "Éclair", "naïve", "Zürich", "Paris",
        "London", "NASA", "iPhone", "McDonald", "O'Neil", "straße", "İzmir", "ÇALIŞMA"]
    return [" ".join(rnd.choice(base) for _ in range(rnd.randint(3, 12))) for _ in range(n)]


@pytest.fixture(scope="module")
def cased(tmp_path_factory):
    tok = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=20))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(_corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    path = tmp_path_factory.mktemp("cased") / "tokenizer.json"
    tok.save(str(path))
    ref = tokenizers.Tokenizer.from_file(str(path))
    return Tokenizer.from_file(str(path)), ref


def test_cased_wordpiece(cased):
    ours, ref = cased
    assert ours.get_vocab_size() == ref.get_vocab_size()
    texts = HANDWRITTEN + _corpus(99, 100) + _random_strings(5, 500)
    _compare(ours, ref, texts)


def test_added_token_flags(tmp_path, minilm_dir):
    """Added tokens with lstrip / rstrip / single_word / normalized, as tokenizers applies them."""
    ref = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ref.no_padding(); ref.no_truncation()
    ref.add_tokens([tokenizers.AddedToken("<lft>", lstrip=True),
                    tokenizers.AddedToken("<rgt>", rstrip=True),
                    tokenizers.AddedToken("solo", single_word=True),
                    tokenizers.AddedToken("Normed", normalized=True),
                    tokenizers.AddedToken("RawTok", normalized=False)])
    ref.add_special_tokens([tokenizers.AddedToken("<special>", lstrip=True, rstrip=True)])
    path = tmp_path / "tokenizer.json"
    ref.save(str(path))
    ours = Tokenizer.from_file(str(path))
    ours.no_padding(); ours.no_truncation()
    texts = ["a <lft> b", "a   <lft>b", "<rgt>   x", "x<rgt>  y", "solo", "a solo b", "asolo b", "solos",
             "solo_x", "NORMED normed Normed", "rawtok RawTok", "x <special>  y", "<special>",
             "  <lft><rgt>  ", "solo solo", "[MASK]<lft>", "ünï <special> çödé"]
    assert ours.get_vocab_size() == ref.get_vocab_size()
    _compare(ours, ref, texts + HANDWRITTEN[:60])


# ------------------------------------------------------------------ vocab.txt fallback

@pytest.mark.parametrize("config", [None, {"do_lower_case": True}, {"do_lower_case": False},
                                    {"do_lower_case": True, "strip_accents": False},
                                    {"do_lower_case": False, "tokenize_chinese_chars": False}])
def test_vocab_txt_fallback(tmp_path, minilm_dir, config):
    from transformers import BertTokenizerFast
    from transformers.models.bert.tokenization_bert import load_vocab

    shutil.copy(minilm_dir / "vocab.txt", tmp_path / "vocab.txt")
    if config is not None:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
        hf = BertTokenizerFast.from_pretrained(str(tmp_path))
    else:
        hf = BertTokenizerFast(vocab=load_vocab(str(tmp_path / "vocab.txt")))
    ref = hf.backend_tokenizer
    ref.no_padding(); ref.no_truncation()
    ours = Tokenizer.from_pretrained(str(tmp_path))
    assert ours.get_vocab_size() == ref.get_vocab_size()
    _compare(ours, ref, HANDWRITTEN + _random_strings(11, 300), lengths=(None, 16))


# ------------------------------------------------------------------ other normalizers / pre-tokenizers

@pytest.mark.parametrize("case", ["nfkc_lower_whitespace", "nfkc_lower_wsplit", "nfd_strip_wsplit",
                                  "nfc_seq", "nfkd_bert", "bert_nolower_nochinese"])
def test_other_pipelines(tmp_path, minilm_dir, case):
    norm, pre = {
        "nfkc_lower_whitespace": (normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]),
                                  pre_tokenizers.Whitespace()),
        "nfkc_lower_wsplit": (normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]),
                              pre_tokenizers.WhitespaceSplit()),
        "nfd_strip_wsplit": (normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()]),
                             pre_tokenizers.WhitespaceSplit()),
        "nfc_seq": (normalizers.NFC(), pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                                pre_tokenizers.BertPreTokenizer()])),
        "nfkd_bert": (normalizers.NFKD(), pre_tokenizers.BertPreTokenizer()),
        "bert_nolower_nochinese": (normalizers.BertNormalizer(lowercase=False, handle_chinese_chars=False,
                                                              strip_accents=True, clean_text=False),
                                   pre_tokenizers.BertPreTokenizer()),
    }[case]
    ref = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ref.no_padding(); ref.no_truncation()
    ref.normalizer, ref.pre_tokenizer = norm, pre
    ref.save(str(tmp_path / "tokenizer.json"))
    ours = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    ours.no_padding(); ours.no_truncation()
    _compare(ours, ref, HANDWRITTEN + _random_strings(3, 1500), lengths=(None,))


@pytest.mark.parametrize("case", ["nfd_strip_wsplit", "bert_nolower_nochinese", "nfkc_lower_whitespace", "nfc_seq"])
def test_combining_classes(tmp_path, minilm_dir, case):
    """Every char utf8proc (our Unicode data, as gen_unicode_tables.py reads it) or
    Python's Unicode data gives a combining class, after and before other marks:
    canonical reordering (and the offsets it moves) must follow tokenizers' NFD tables,
    which see marks newer than them (U+0EBA, U+A82C, U+10EFD, U+1E4EC, ...) as starters."""
    import ctypes
    import ctypes.util
    import unicodedata
    u8p = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
    u8p.utf8proc_get_property.restype = ctypes.POINTER(ctypes.c_int16 * 2)  # {category, combining_class, ...}
    u8p.utf8proc_get_property.argtypes = [ctypes.c_int32]
    norm = {"nfd_strip_wsplit": normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()]),
            "bert_nolower_nochinese": normalizers.BertNormalizer(lowercase=False, handle_chinese_chars=False,
                                                                 strip_accents=True, clean_text=False),
            "nfkc_lower_whitespace": normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]),
            "nfc_seq": normalizers.NFC()}[case]
    ref = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ref.no_padding(); ref.no_truncation()
    ref.normalizer, ref.pre_tokenizer = norm, pre_tokenizers.WhitespaceSplit()
    ref.save(str(tmp_path / "tokenizer.json"))
    ours = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    ours.no_padding(); ours.no_truncation()
    marks = [chr(c) for c in range(0x300, 0x110000) if not 0xD800 <= c <= 0xDFFF
             and (unicodedata.combining(chr(c)) or u8p.utf8proc_get_property(c).contents[1])]
    # the tl_uc_ccc0 entries newer than Python 3.11's Unicode 14 come from utf8proc
    newer = [0x10EFD, 0x10EFE, 0x10EFF, 0x11F41, 0x11F42, 0x1E08F, 0x1E4EC, 0x1E4ED, 0x1E4EE, 0x1E4EF]
    assert "\u0eba" in marks and "\ua82c" in marks and len(marks) > 800
    assert all(chr(c) in marks for c in newer)
    texts = [t for m in marks for t in (f"a \u0301{m} x", f"\u034a{m}\u0316 e{m}\u0301", f"o{m}\u0334 {m}")]
    texts += [" ".join(marks[i:i + 5]) + " \u0301" + "\u0301".join(marks[i:i + 5]) for i in range(0, len(marks), 5)]
    for x, y, t in zip(ours.encode_batch(texts), ref.encode_batch(texts), texts):
        _check_same(x, y, t)
