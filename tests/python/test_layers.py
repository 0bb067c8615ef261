"""scripts/check_layers.py: includes flow one way between the layers and no two source
files call each other in a loop. `make test-layers` runs the checker strictly; this test
fails on any violation (none are known)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_new_layer_violations():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_layers.py"), "--build", "build"],
                       capture_output=True, text=True, cwd=ROOT)
    found = [line for line in r.stdout.splitlines() if not line.startswith("check_layers:")]
    assert r.returncode == 0 and not found, "violations:\n" + "\n".join(found) + r.stderr


def test_checker_flags_a_private_header_and_a_wrong_direction(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import check_layers

    for d in ("src/core", "src/tokenizer", "src/tasks", "include"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "include/torchless.h").write_text("")
    (tmp_path / "src/tokenizer/tok_x.h").write_text('#include "torchless.h"\n')
    (tmp_path / "src/tasks/t.c").write_text('#include "tokenizer/tok_x.h"\n')
    (tmp_path / "src/core/c.c").write_text('#include "tasks/t.h"\n')
    (tmp_path / "src/tasks/t.h").write_text("")
    monkeypatch.setattr(check_layers, "ROOT", str(tmp_path))
    bad = check_layers.include_violations()
    assert bad == ["include: src/core/c.c -> src/tasks/t.h (layer core -> tasks is not allowed)",
                   "include: src/tasks/t.c -> src/tokenizer/tok_x.h (private header of src/tokenizer)"]
