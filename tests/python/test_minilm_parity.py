"""Parity on the real sentence-transformers/all-MiniLM-L6-v2: sentence embeddings against
SentenceTransformer.encode, last hidden states against transformers' AutoModel."""
import random

import numpy as np
import pytest
import torch

from torchless import Model


def varied_texts():
    """At least 50 inputs covering the cases the foundation issue names."""
    rng = random.Random(1234)
    texts = [
        "", "a", "A", " ", "  \t\n  ", ".", "!", "7", "é", "中", "😀",
        "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        "I like you", "I hate you", "This is a test sentence.",
        "café naïve résumé Ñandú Å Ølberg São Paulo", "ÀÉÎÕÜ àéîõü çÇ",
        "東京は日本の首都です。", "北京欢迎你", "안녕하세요 세계", "Привет, мир!", "مرحبا بالعالم",
        "नमस्ते दुनिया", "สวัสดีชาวโลก", "Γειά σου Κόσμε",
        "👩‍👩‍👧‍👦 family emoji 👍🏽 thumbs", "flags 🇫🇷🇯🇵 and ❤️",
        "e\u0301 combining acute, n\u0303 tilde", "zero\u200bwidth\u200cjoiners\u200d",
        "tab\tseparated\tvalues", "line one\nline two\r\nline three",
        "control \x01\x02\x7f chars", "MiXeD CaSe WoRdS", "İstanbul straße ǅ",
        "supercalifragilisticexpialidocious" * 4, "a" * 150,
        "https://example.com/path?query=1&x=y#frag", "user@example.org",
        "def f(x):\n    return x ** 2  # square", "int main(void) { return 0; }",
        "3.14159 2,718 1e-10 -42 +7 100%", "$19.99 €5 ¥100 £3",
        "[CLS] inside [SEP] text [MASK]", "[mask] lowercase specials",
        "Don't stop believin'", "well-known state-of-the-art", "U.S.A. e.g. i.e.",
        "   leading and trailing spaces   ", "repeated!!!???...",
    ]
    words = "the of and a to in is you that it he was for on are as with his they at be".split()
    long_text = " ".join(rng.choice(words) for _ in range(600))  # > 256 tokens: truncated
    texts.append(long_text)
    texts.append("word " * 300)
    for _ in range(10):
        n = rng.randint(1, 40)
        texts.append(" ".join(rng.choice(words) for _ in range(n)))
    return texts


TEXTS = varied_texts()


@pytest.fixture(scope="module")
def st_model(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


@pytest.fixture(scope="module")
def tl_model(minilm_dir):
    return Model(minilm_dir)


def test_many_inputs():
    assert len(TEXTS) >= 50


def test_sentence_embeddings_match_sentence_transformers(st_model, tl_model):
    want = st_model.encode(TEXTS, batch_size=16, convert_to_numpy=True)
    got = tl_model.embed(TEXTS)
    assert got.shape == want.shape == (len(TEXTS), 384)
    err = np.abs(got - want).max(axis=1)
    bad = [(TEXTS[i][:40], float(err[i])) for i in np.argsort(-err)[:5] if err[i] > 1e-5]
    assert not bad, f"embeddings differ by more than 1e-5: {bad}"
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_truncation_at_256_tokens(st_model, tl_model, minilm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_dir)
    long_text = TEXTS[-12]
    assert len(tok(long_text)["input_ids"]) > 256
    feats = tl_model.extract_features([long_text], max_length=256)[0]
    assert feats.shape[0] == 256
    np.testing.assert_allclose(tl_model.embed([long_text])[0], st_model.encode([long_text])[0], atol=1e-5)


def test_unnormalized_embeddings(st_model, tl_model):
    texts = TEXTS[:20]
    want = st_model.encode(texts, normalize_embeddings=False, convert_to_numpy=True)
    # st_model includes a Normalize module: compare with the raw mean pooling instead
    from sentence_transformers import SentenceTransformer

    raw = SentenceTransformer(modules=[st_model[0], st_model[1]], device="cpu")
    want = raw.encode(texts, convert_to_numpy=True)
    got = tl_model.embed(texts, normalize=False)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_last_hidden_state_matches_automodel(tl_model, minilm_dir):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_dir)
    hf = AutoModel.from_pretrained(minilm_dir).eval()
    for text in TEXTS:
        enc = tok(text, truncation=True, max_length=512, return_tensors="pt")
        with torch.inference_mode():
            want = hf(**enc).last_hidden_state[0].numpy()
        got = tl_model.forward([enc["input_ids"][0].tolist()],
                               token_type_ids=[enc["token_type_ids"][0].tolist()])[0]
        err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
        assert err.max() <= 1e-4, f"{text[:40]!r}: max relative error {err.max():.3g}"
        # our own tokenizer + forward (feature extraction) gives the same
        feats = tl_model.extract_features([text], max_length=512)[0]
        assert feats.shape == want.shape, text[:40]
        np.testing.assert_allclose(feats, got, atol=1e-6, rtol=0)


def test_mixed_length_batch_equals_single(tl_model):
    batch = TEXTS[:16]
    together = tl_model.embed(batch)
    for i, t in enumerate(batch):
        np.testing.assert_allclose(tl_model.embed([t])[0], together[i], atol=1e-5, rtol=0)


def test_long_text_truncates_without_windows(st_model, tl_model):
    """A text of 100k tokens embeds as SentenceTransformer.encode does (its first 256
    tokens) through Model.embed, the engine's EMBED request (truncate=True) and the
    sentence-embedding pipeline, none of which builds overflowing windows (a 10 MB text,
    whose windows exceed max_overflow_tokens: tests/python/test_hostile.py)."""
    import torchless

    rng = random.Random(77)
    words = "the of and a to in is you that it he was for on are as with his they at be".split()
    text = " ".join(rng.choice(words) for _ in range(100_000))
    want = st_model.encode([text], convert_to_numpy=True)[0]
    np.testing.assert_allclose(tl_model.embed([text])[0], want, atol=1e-5)
    with torchless.Engine(tl_model) as e:
        np.testing.assert_allclose(np.asarray(e.embed([text], truncate=True))[0], want, atol=1e-5)
    pipe = torchless.pipeline("sentence-embedding", model=tl_model)
    np.testing.assert_allclose(np.asarray(pipe(text)).reshape(-1), want, atol=1e-5)
