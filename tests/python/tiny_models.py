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
