"""TorchServe handler for bench/serve_torchserve.py: sentence embeddings of
all-MiniLM-L6-v2 with transformers in eager PyTorch, as TorchServe's Hugging Face example
handler serves a model (BaseHandler, AutoTokenizer + AutoModel from the archive's directory,
one batch per TorchServe batch), with sentence-transformers' mean pooling and L2
normalisation so its output equals TEI's /embed and torchless serve's.

Each TorchServe batch is tokenized with padding to its longest text (the example handler
pads to a fixed max_length, which would cost TorchServe more). Threads per worker: the
environment variable TS_BENCH_THREADS (set by the benchmark)."""
import json
import os

import torch
from transformers import AutoModel, AutoTokenizer
from ts.torch_handler.base_handler import BaseHandler


class EmbeddingHandler(BaseHandler):
    """Mean-pooled, normalised last hidden states of the texts of a TorchServe batch."""

    def initialize(self, context):
        """Loads tokenizer and model from the model directory; fixes the thread count."""
        torch.set_num_threads(int(os.environ.get("TS_BENCH_THREADS", "1")))
        model_dir = context.system_properties.get("model_dir")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir).eval()
        self.initialized = True

    def preprocess(self, requests):
        """One text per request: a JSON body {"inputs": text} or a raw text body."""
        texts = []
        for r in requests:
            body = r.get("data") or r.get("body")
            if isinstance(body, (bytes, bytearray)):
                body = body.decode("utf-8")
            if isinstance(body, str):
                try:
                    body = json.loads(body)
                except ValueError:
                    pass
            texts.append(body["inputs"] if isinstance(body, dict) else str(body))
        return self.tokenizer(texts, padding=True, truncation=True, max_length=256,
                              return_tensors="pt")

    def inference(self, enc):
        """Forward pass, mean pooling over real tokens, L2 normalisation."""
        with torch.inference_mode():
            h = self.model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(e, p=2, dim=1)

    def postprocess(self, emb):
        """One embedding (a list of floats) per request, in request order."""
        return [[row] for row in emb.tolist()]
