"""Compares torchless's embeddings (JSON lines from `torchless run`) with
SentenceTransformer.encode on the same sentences; prints the largest difference."""
import json
import os
import sys

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
from sentence_transformers import SentenceTransformer

model_dir, jsonl, sentences = sys.argv[1], sys.argv[2], sys.argv[3:]
ours = np.array([json.loads(line)["embedding"] for line in open(jsonl)], dtype=np.float32)
theirs = SentenceTransformer(model_dir, device="cpu").encode(sentences)
diff = float(np.abs(ours - theirs).max())
print(f"sentence-transformers vs torchless: {len(sentences)} embeddings of dim {ours.shape[1]}, "
      f"max abs difference {diff:.2e} ({'OK' if diff <= 1e-5 else 'MISMATCH'}, tolerance 1e-5)")
sys.exit(0 if diff <= 1e-5 else 1)
