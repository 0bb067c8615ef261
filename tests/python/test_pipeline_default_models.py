"""pipeline(task) without a model finds transformers' default checkpoint for the task in
the local Hugging Face cache (refs/main -> snapshot), and says which id to get when absent."""
import numpy as np
import pytest

import torchless


def fake_cache(root, repo_id, src_dir):
    """Lays out HF's cache for repo_id with symlinks to the files of src_dir."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / "0123abcd"
    for f in src_dir.rglob("*"):
        if f.is_file():
            dest = snap / f.relative_to(src_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(f)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd\n")


def test_default_model_is_found_in_the_cache(tmp_path, monkeypatch, minilm_dir):
    fake_cache(tmp_path, "sentence-transformers/all-MiniLM-L6-v2", minilm_dir)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    texts = ["A man is eating food.", "The girl is carrying a baby."]
    got = np.array(torchless.pipeline("sentence-embedding")(texts), dtype=np.float32)
    want = torchless.Model(minilm_dir).embed(texts)
    np.testing.assert_allclose(got.reshape(want.shape), want, atol=1e-6)


def test_missing_default_model_names_the_id(tmp_path, monkeypatch):
    for var in ("HF_HOME", "XDG_CACHE_HOME", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(torchless.TorchlessError) as e:
        torchless.pipeline("text-classification")
    msg = str(e.value)
    assert "distilbert/distilbert-base-uncased-finetuned-sst-2-english" in msg
    assert "offline" in msg
