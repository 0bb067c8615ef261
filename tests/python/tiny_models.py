"""Builds tiny random models with transformers (fixed seed) and a WordPiece tokenizer
trained in-process with tokenizers, saved as a Hugging Face model directory."""
from pathlib import Path

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a journey of a thousand miles begins with a single step",
    "hello world, this is torchless running bert from c",
    "café naïve résumé über straße",
    "numbers 0 1 2 3 4 5 6 7 8 9 10 42 3.14",
    "machine learning models transform text into vectors",
    "东京 北京 上海 ソウル 서울",
    "punctuation! question? (parentheses) [brackets] {braces}",
] * 20


def train_wordpiece(vocab_size=200, lowercase=True):
    """A BERT-style WordPiece tokenizer trained on CORPUS (fixed, deterministic)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
    tok.train_from_iterator(CORPUS, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def build_tiny_bert(path: Path, seed=0, layers=2, hidden=64, heads=4, intermediate=None,
                    type_vocab_size=2, max_positions=128, hidden_act="gelu", prefix=False,
                    dtype="float32"):
    """Saves a random BertModel (biases and LayerNorms randomized too) with its tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    tok = train_wordpiece()
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=intermediate or 2 * hidden,
                     type_vocab_size=type_vocab_size, max_position_embeddings=max_positions,
                     hidden_act=hidden_act)
    torch.manual_seed(seed)
    model = BertModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.2)
    if dtype != "float32":
        model = model.to(getattr(torch, dtype))
    path = Path(path)
    if prefix:  # as task models (BertForMaskedLM, ...) store it: every name under "bert."
        from safetensors.torch import save_file

        path.mkdir(parents=True, exist_ok=True)
        cfg.architectures = ["BertModel"]
        cfg.save_pretrained(path)
        save_file({"bert." + k: v.contiguous() for k, v in model.state_dict().items()},
                  str(path / "model.safetensors"), metadata={"format": "pt"})
    else:
        model.save_pretrained(path, safe_serialization=True)
    tok.save(str(path / "tokenizer.json"))
    return path


def build_tiny_encoder(path: Path, model_class: str, config: dict, seed=0):
    """Saves a random transformers model of class model_class (e.g. "RobertaModel",
    "AlbertForMaskedLM") built from config with biases and norms randomized too; no
    tokenizer. Returns the directory."""
    import torch
    import transformers

    cls = getattr(transformers, model_class)
    cfg = cls.config_class(**config)
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
                p.add_(torch.randn_like(p) * 0.2)
    model.save_pretrained(Path(path), safe_serialization=True)
    return Path(path)


# Task heads of the tiny BERTs (build_tiny_bert_task): the transformers class, config
# extras, and the parameters scaled so that argmax / ranking is clearly decided.
BERT_TASKS = {
    "seq-cls": ("BertForSequenceClassification",
                {"id2label": {0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"}}, ("classifier.",)),
    "seq-cls-multi": ("BertForSequenceClassification",
                      {"id2label": {0: "sports", 1: "politics", 2: "science", 3: "music"},
                       "problem_type": "multi_label_classification"}, ("classifier.",)),
    "seq-cls-single": ("BertForSequenceClassification", {"num_labels": 1}, ("classifier.",)),
    # a cross-encoder (one relevance logit); pooler and encoder scaled too so that [CLS]
    # depends on the text and scores spread widely
    "cross-encoder": ("BertForSequenceClassification", {"num_labels": 1},
                      ("classifier.", "bert.pooler.", "bert.encoder.")),
    "token-cls": ("BertForTokenClassification",
                  {"id2label": {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC",
                                5: "B-ORG", 6: "I-ORG"}}, ("classifier.",)),
    "qa": ("BertForQuestionAnswering", {}, ("qa_outputs.",)),
    "mlm": ("BertForMaskedLM", {}, ("cls.predictions.transform.LayerNorm.",)),
    "nli": ("BertForSequenceClassification",
            {"id2label": {0: "contradiction", 1: "neutral", 2: "entailment"}}, ("classifier.",)),
}


def build_tiny_bert_task(path: Path, task: str, seed=0, layers=2, hidden=64, heads=4,
                         max_positions=64, scale=20.0):
    """Saves a random Bert*For<task> model (see BERT_TASKS) with its trained WordPiece
    tokenizer.json and a tokenizer_config.json giving model_max_length = max_positions.
    Biases and norms are randomized and the head's parameters multiplied by `scale` so
    scores are far from uniform. Returns the directory."""
    import json

    import torch
    import transformers

    cls_name, extra, scaled = BERT_TASKS[task]
    tok = train_wordpiece()
    cfg = transformers.BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden,
                                  num_hidden_layers=layers, num_attention_heads=heads,
                                  intermediate_size=2 * hidden, max_position_embeddings=max_positions,
                                  **extra)
    if "id2label" in extra:
        cfg.label2id = {v: k for k, v in extra["id2label"].items()}
    torch.manual_seed(seed)
    model = getattr(transformers, cls_name)(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.2)
            if any(name.startswith(s) for s in scaled):
                p.mul_(scale)
    path = Path(path)
    model.save_pretrained(path, safe_serialization=True)
    tok.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": max_positions}))
    return path


# Every encoder family with task heads: the transformers class prefix and tiny config
# extras (hidden 32, 2 layers, 64 positions; RoBERTa-style families keep 2 for padding).
FAMILIES = {
    "bert": ("Bert", {"max_position_embeddings": 64}),
    "roberta": ("Roberta", {"max_position_embeddings": 66, "type_vocab_size": 1}),
    "xlm-roberta": ("XLMRoberta", {"max_position_embeddings": 66, "type_vocab_size": 1}),
    "camembert": ("Camembert", {"max_position_embeddings": 66, "type_vocab_size": 1}),
    "distilbert": ("DistilBert", {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64,
                                  "max_position_embeddings": 64}),
    "electra": ("Electra", {"embedding_size": 16, "max_position_embeddings": 64}),
    "albert": ("Albert", {"embedding_size": 16, "max_position_embeddings": 64}),
    "mpnet": ("MPNet", {"max_position_embeddings": 66}),
    "deberta-v2": ("DebertaV2", {"max_position_embeddings": 64, "relative_attention": True,
                                 "position_buckets": 16, "share_att_key": True, "pos_att_type": ["p2c", "c2p"],
                                 "norm_rel_ebd": "layer_norm", "position_biased_input": False}),
    "modernbert": ("ModernBert", {"max_position_embeddings": 64, "local_attention": 8, "bos_token_id": 2,
                                  "eos_token_id": 3, "cls_token_id": 2, "sep_token_id": 3,
                                  "classifier_pooling": "mean"}),
}
# Families whose models take no token_type_ids (their tokenizers give none).
NO_TYPE_IDS = ("distilbert", "roberta", "xlm-roberta", "camembert", "mpnet", "modernbert")
FAMILY_BASE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}

# The heads built per family (build_family_task): class suffix, config extras, and the
# factor on the head's parameters (decided rankings, scores still away from 0 and 1).
NER_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC", 5: "B-ORG", 6: "I-ORG"}
NLI_LABELS = {0: "contradiction", 1: "neutral", 2: "entailment"}
FAMILY_TASKS = {
    "seq-cls": ("ForSequenceClassification", {"id2label": NLI_LABELS}, 4.0),
    "seq-cls-multi": ("ForSequenceClassification", {"id2label": {0: "sports", 1: "politics", 2: "science",
                                                                 3: "music"},
                                                    "problem_type": "multi_label_classification"}, 4.0),
    "seq-cls-one": ("ForSequenceClassification", {"num_labels": 1}, 4.0),
    "token-cls": ("ForTokenClassification", {"id2label": NER_LABELS}, 8.0),
    "qa": ("ForQuestionAnswering", {}, 8.0),
    "mlm": ("ForMaskedLM", {}, 1.0),
    "base": ("Model", {}, 1.0),
}


# The tokenizer kind of each family, as its real checkpoints have: WordPiece (BERT-style),
# byte-level BPE (RoBERTa, ModernBERT) or a SentencePiece-style Unigram with Metaspace
# (XLM-R, CamemBERT, ALBERT, DeBERTa-v2); special token names per kind.
FAMILY_TOKENIZER = {"roberta": "bpe", "modernbert": "bpe", "xlm-roberta": "unigram", "camembert": "unigram",
                    "albert": "unigram", "deberta-v2": "unigram"}
SPECIALS = {"wordpiece": dict(pad="[PAD]", unk="[UNK]", cls="[CLS]", sep="[SEP]", mask="[MASK]"),
            "bpe": dict(pad="<pad>", unk="<unk>", cls="<s>", sep="</s>", mask="<mask>"),
            "unigram": dict(pad="[PAD]", unk="[UNK]", cls="[CLS]", sep="[SEP]", mask="[MASK]")}


def family_tokenizer(family):
    """A tokenizer of the family's kind (FAMILY_TOKENIZER) trained on CORPUS, with its
    decoder; pairs get type id 1 only for families with token types. Returns (tokenizer,
    special token names)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    kind = FAMILY_TOKENIZER.get(family, "wordpiece")
    sp = SPECIALS[kind]
    specials = [sp["pad"], sp["unk"], sp["cls"], sp["sep"], sp["mask"]]
    if kind == "wordpiece":
        tok = train_wordpiece()
        tok.decoder = decoders.WordPiece(prefix="##")
    elif kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(CORPUS, trainers.BpeTrainer(
            vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    else:
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=200, special_tokens=specials,
                                                                unk_token=sp["unk"]))
    cls, sep = tok.token_to_id(sp["cls"]), tok.token_to_id(sp["sep"])
    t = 0 if family in NO_TYPE_IDS else 1
    tok.post_processor = processors.TemplateProcessing(
        single=f"{sp['cls']} $A {sp['sep']}", pair=f"{sp['cls']} $A {sp['sep']} $B:{t} {sp['sep']}:{t}",
        special_tokens=[(sp["cls"], cls), (sp["sep"], sep)])
    return tok, sp


def build_family_task(path: Path, family: str, task: str, seed=0, max_length=64):
    """Saves a random <Family><FAMILY_TASKS[task] class> (hidden 32, 2 layers; biases and norms
    randomized, head parameters scaled) with family_tokenizer(family) and a
    tokenizer_config.json transformers loads it with (special tokens, model_max_length,
    model_input_names). Returns the directory."""
    import json

    import torch
    import transformers

    prefix, extra = FAMILIES[family]
    suffix, task_extra, scale = FAMILY_TASKS[task]
    tok, sp = family_tokenizer(family)
    kw = dict(extra, vocab_size=tok.get_vocab_size(), pad_token_id=tok.token_to_id(sp["pad"]), **task_extra)
    if family != "distilbert":
        kw = {**FAMILY_BASE, **kw}
    if "id2label" in kw:
        kw["label2id"] = {v: k for k, v in kw["id2label"].items()}
    cfg = getattr(transformers, prefix + "Config")(**kw)
    torch.manual_seed(seed)
    model = getattr(transformers, prefix + suffix)(cfg).eval()
    base = model.base_model_prefix + "."
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_norm = "LayerNorm" in name or "layer_norm" in name or name.endswith("norm.weight")
            if name.endswith("bias") or is_norm:
                p.add_(torch.randn_like(p) * 0.2)
            in_head = suffix != "Model" and not name.startswith(base) and "embeddings" not in name
            if in_head and suffix == "ForMaskedLM" and is_norm:
                p.mul_(20.0)  # a peaked vocabulary distribution: no near-ties in the top_k
            elif in_head and not is_norm:
                p.mul_(scale)
    path = Path(path)
    model.save_pretrained(path, safe_serialization=True)
    tok.save(str(path / "tokenizer.json"))
    names = ["input_ids", "attention_mask"] if family in NO_TYPE_IDS else ["input_ids", "token_type_ids",
                                                                          "attention_mask"]
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length,
        **{k + "_token": v for k, v in sp.items()}, "model_input_names": names}))
    return path


def gpt2_bpe_tokenizer(vocab_size=300):
    """A GPT-2-style byte-level BPE tokenizer trained on CORPUS (no post-processor, one
    special token <|endoftext|>, id 0)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def build_tiny_gpt2_lm(path: Path, seed=0, generation_config=None, **config):
    """Saves a random GPT2LMHeadModel (2 layers, hidden 64; norms and biases randomized)
    with gpt2_bpe_tokenizer() and a tokenizer_config.json transformers loads, bos = eos =
    <|endoftext|>; generation_config (a dict) is saved as generation_config.json. Returns
    the directory."""
    import json

    import torch
    import transformers

    tok = gpt2_bpe_tokenizer()
    eot = tok.token_to_id("<|endoftext|>")
    kw = dict(n_layer=2, n_embd=64, n_head=4, n_positions=128, vocab_size=tok.get_vocab_size(),
              bos_token_id=eot, eos_token_id=eot)
    kw.update(config)
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**kw)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name or "ln_f" in name:
                p.add_(torch.randn_like(p) * 0.2)
    path = Path(path)
    model.generation_config = transformers.GenerationConfig(bos_token_id=eot, eos_token_id=eot,
                                                             **(generation_config or {}))
    model.save_pretrained(path, safe_serialization=True)
    if not generation_config:
        (path / "generation_config.json").unlink(missing_ok=True)
    tok.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "model_max_length": 128,
        "add_prefix_space": False, "clean_up_tokenization_spaces": False}))
    return path
