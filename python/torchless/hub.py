"""Where a model lives: a directory, or a Hugging Face id in the local cache (the same roots
and layout src/io/hub.c searches), at the default snapshot or at a given `revision`."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional

from ._lib import invalid_input


def cache_roots() -> List[Path]:
    """The Hugging Face cache roots, in src/io/hub.c's order, without duplicates."""
    spec = [("HF_HUB_CACHE", None), ("HUGGINGFACE_HUB_CACHE", None), ("HF_HOME", "hub"),
            ("XDG_CACHE_HOME", "huggingface/hub"), ("HOME", ".cache/huggingface/hub")]
    roots: List[Path] = []
    for env, sub in spec:
        v = os.environ.get(env)
        if v:
            r = Path(v) / sub if sub else Path(v)
            if r not in roots:
                roots.append(r)
    return roots


def check_not_a_file(path_or_id) -> None:
    """Raises a clear error when the model argument names a file (config.json, a
    .safetensors file) instead of the model's directory."""
    p = os.fspath(path_or_id)
    if os.path.isfile(p):
        raise invalid_input(f"'{p}' is a file; a model is the directory that holds config.json and the "
                            f"weights (model.safetensors), or a Hugging Face id in the local cache")


def snapshot(model_id: str, revision: Optional[str]) -> Optional[Path]:
    """The cached snapshot directory of model_id at revision (a branch or tag name in refs/,
    or a commit hash); None when it is not in the cache."""
    rev = revision or "main"
    repo_name = "models--" + model_id.replace("/", "--")
    for root in cache_roots():
        repo = root / repo_name
        commit = rev
        ref = repo / "refs" / rev
        if ref.is_file():
            commit = ref.read_text().strip()
        snap = repo / "snapshots" / commit
        if re.fullmatch(r"[\w.\-]+", commit) and snap.is_dir():
            return snap
        if revision is None and not ref.is_file() and (repo / "snapshots").is_dir():
            snaps = sorted((repo / "snapshots").iterdir(), key=lambda d: d.stat().st_mtime)
            if snaps:  # no refs/main: the newest snapshot, as src/io/hub.c
                return snaps[-1]
    return None


def resolve(path_or_id, revision: Optional[str] = None) -> str:
    """The argument to give the C loader: a directory unchanged; for an id with a revision
    other than main, its cached snapshot directory (an error naming the id and revision when
    absent); otherwise the id unchanged (the C loader resolves refs/main)."""
    p = os.fspath(path_or_id)
    check_not_a_file(p)
    if os.path.isdir(p) or revision in (None, "main"):
        return p
    snap = snapshot(p, revision)
    if snap is None:
        raise invalid_input(f"model '{p}' at revision '{revision}' is not in the local Hugging Face cache "
                            f"(searched: {', '.join(str(r) for r in cache_roots()) or 'nothing'}); "
                            f"download it first (we are offline)")
    return str(snap)


def model_dir(path_or_id) -> Optional[Path]:
    """The directory of a model argument (a directory, or a cached id at refs/main), or None."""
    p = os.fspath(path_or_id)
    if os.path.isdir(p):
        return Path(p)
    if re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", p):
        return snapshot(p, None)
    return None
