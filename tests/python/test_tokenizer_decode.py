"""Parity of Tokenizer.decode with Hugging Face `tokenizers` (every decoder: WordPiece,
ByteLevel, Metaspace, BPEDecoder, ByteFallback, Fuse, Strip, Replace, Sequence), with and
without skip_special_tokens, on encodings of the corpus and on random id sequences (which
give invalid UTF-8 to the byte-level decoders); and transformers' decode with
clean_up_tokenization_spaces."""
import json
import random

import pytest
import tokenizers
from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, trainers

from test_tokenizer_bpe import gpt2_like, roberta_like, training_corpus
from test_tokenizer_parity import HANDWRITTEN, _random_strings
from torchless.tokenizer import Tokenizer


def _both(path):
    ref = tokenizers.Tokenizer.from_file(str(path))
    ref.no_padding(); ref.no_truncation()
    ours = Tokenizer.from_file(str(path))
    ours.no_padding(); ours.no_truncation()
    return ours, ref


def compare_decode(ours, ref, seed, n_random=300, clean_up=True):
    texts = HANDWRITTEN + training_corpus(seed, 100) + _random_strings(seed, 200)
    seqs = [ref.encode(t).ids for t in texts]
    rnd = random.Random(seed)
    size = ref.get_vocab_size()
    seqs += [[rnd.randrange(size + 3) for _ in range(rnd.randint(0, 12))] for _ in range(n_random)]
    hf = None
    if clean_up:
        from transformers import PreTrainedTokenizerFast
        hf = PreTrainedTokenizerFast(tokenizer_object=ref)
    for ids in seqs:
        for skip in (True, False):
            try:
                want = ref.decode(ids, skip_special_tokens=skip)
            except BaseException as e:  # tokenizers panics on some Strip inputs; we must not crash
                if isinstance(e, KeyboardInterrupt):
                    raise
                ours.decode(ids, skip_special_tokens=skip)
                continue
            assert ours.decode(ids, skip_special_tokens=skip) == want, (ids, skip)
            if hf is not None:
                want = hf.decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=True)
                got = ours.decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=True)
                assert got == want, ("clean_up", ids, skip)
    assert ours.decode_batch(seqs[:20]) == ref.decode_batch(seqs[:20])
    return len(seqs)


def test_minilm_wordpiece(minilm_dir):
    ours, ref = _both(minilm_dir / "tokenizer.json")
    assert compare_decode(ours, ref, 1) > 500
    assert ours.decode([101, 7592, 1010, 2088, 999, 102]) == "hello, world!"


def test_vocab_txt_decoder(tmp_path, minilm_dir):
    import shutil
    from transformers import BertTokenizerFast
    shutil.copy(minilm_dir / "vocab.txt", tmp_path / "vocab.txt")
    hf = BertTokenizerFast.from_pretrained(str(tmp_path))
    ours = Tokenizer.from_pretrained(str(tmp_path))
    for t in HANDWRITTEN[:80]:
        ids = hf(t)["input_ids"]
        assert ours.decode(ids, clean_up_tokenization_spaces=True) == hf.decode(
            ids, skip_special_tokens=True, clean_up_tokenization_spaces=True)


@pytest.mark.parametrize("kind", ["gpt2", "roberta"])
def test_byte_level(tmp_path, kind):
    (gpt2_like() if kind == "gpt2" else roberta_like()).save(str(tmp_path / "tokenizer.json"))
    ours, ref = _both(tmp_path / "tokenizer.json")
    compare_decode(ours, ref, 2)


def test_metaspace_unigram(tmp_path):
    tok = tokenizers.Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator([t.replace("\x00", "") for t in training_corpus(3, 2000)],
                            trainers.UnigramTrainer(vocab_size=400, special_tokens=["<unk>", "<s>"],
                                                    unk_token="<unk>", show_progress=False))
    for scheme in ("always", "first", "never"):
        j = json.loads(tok.to_str())
        j["decoder"]["prepend_scheme"] = scheme
        (tmp_path / f"{scheme}.json").write_text(json.dumps(j))
        ours, ref = _both(tmp_path / f"{scheme}.json")
        compare_decode(ours, ref, 3, n_random=150)


def test_llama2_style_sequence(tmp_path):
    """Replace("▁", " ") + ByteFallback + Fuse + Strip(" ", 1, 0): Llama 2's decoder."""
    tok = tokenizers.Tokenizer(models.BPE(byte_fallback=True, fuse_unk=True, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    alphabet = [f"<0x{b:02X}>" for b in range(256)]
    tok.train_from_iterator([t.replace("\x00", "") for t in training_corpus(4, 2000)],
                            trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>"] + alphabet,
                                                show_progress=False, limit_alphabet=150))
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.save(str(tmp_path / "tokenizer.json"))
    ours, ref = _both(tmp_path / "tokenizer.json")
    compare_decode(ours, ref, 5, n_random=600)


def test_bpe_decoder_and_regex_replace(tmp_path):
    tok = tokenizers.Tokenizer(models.BPE(unk_token="[UNK]", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([t.replace("\x00", "") for t in training_corpus(6, 1500)],
                            trainers.BpeTrainer(vocab_size=500, special_tokens=["[UNK]"], end_of_word_suffix="</w>",
                                                show_progress=False, limit_alphabet=120))
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    tok.save(str(tmp_path / "a.json"))
    compare_decode(*_both(tmp_path / "a.json"), 6)
    tok.decoder = decoders.Sequence([decoders.BPEDecoder(suffix="</w>"), decoders.Replace(Regex(r"\s+"), "_"),
                                     decoders.Strip("_", 2, 2)])
    tok.save(str(tmp_path / "b.json"))
    compare_decode(*_both(tmp_path / "b.json"), 7)
    tok.decoder = None
    tok.save(str(tmp_path / "c.json"))
    compare_decode(*_both(tmp_path / "c.json"), 8, clean_up=False)


def test_cli_decode_and_stride(minilm_dir):
    import subprocess
    from pathlib import Path
    cli = Path(__file__).resolve().parents[2] / "build" / "torchless"
    if not cli.exists():
        pytest.skip("build/torchless not built")
    ref = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ref.no_padding()
    ids = ref.encode("Hello, world! I don't know.").ids
    out = subprocess.run([str(cli), "tokenize", "--model", str(minilm_dir), "--decode", json.dumps(ids),
                          " ".join(map(str, ids))], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [json.loads(x)["text"] for x in out.stdout.splitlines()] == [ref.decode(ids)] * 2
    out = subprocess.run([str(cli), "tokenize", "--model", str(minilm_dir), "--max-length", "8", "--stride", "2",
                          "--truncation", "only_second", "--pair", "a b c d e f g h", "what?"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    ref.enable_truncation(8, stride=2, strategy="only_second")
    want = ref.encode("what?", "a b c d e f g h")
    assert got["ids"] == want.ids and [o["ids"] for o in got["overflowing"]] == [o.ids for o in want.overflowing]
    assert got["sequence_ids"] == [-1 if s is None else s for s in want.sequence_ids]
