"""docs/ROBUSTNESS.md against tests/fuzz: every fuzz target is documented with seeds and a
dictionary, and every command the doc shows is one that `make test` runs (make test-fuzz ->
tests/fuzz/run_all.sh -> tests/fuzz/run.sh for each target) with real targets; the
scripts refuse a call without their arguments."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ROBUSTNESS.md"
FUZZ = ROOT / "tests" / "fuzz"
TARGETS = sorted(p.stem[len("fuzz_"):] for p in FUZZ.glob("fuzz_*.c"))


def sh_lines():
    """The command lines of the doc's ```sh blocks."""
    lines, inside = [], False
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```sh"
            continue
        if inside and line.strip():
            lines.append(line.strip())
    return lines


def test_every_target_documented_with_seeds_and_dict():
    text = DOC.read_text()
    assert len(TARGETS) >= 8
    for t in TARGETS:
        assert f"`{t}`" in text, t
        assert any((FUZZ / "seeds" / t).iterdir()), t
        assert (FUZZ / f"{t}.dict").read_text().count("\n") > 5, t


def test_doc_commands_are_the_ones_make_test_runs():
    mk = (ROOT / "Makefile").read_text()
    assert re.search(r"^test-fuzz:\n\tPY=\"\$\(PY\)\" bash tests/fuzz/run_all.sh \$\(FUZZ_SECONDS\)$", mk, re.M)
    assert re.search(r"^test: .*\n(\t.*\n)*\t\$\(MAKE\) test-fuzz$", mk, re.M)
    assert "bash tests/fuzz/run.sh" in (FUZZ / "run_all.sh").read_text()
    lines = sh_lines()
    assert lines
    for line in lines:
        make = re.fullmatch(r"make test-fuzz( FUZZ_SECONDS=\d+)?", line)
        run_all = re.fullmatch(r"bash tests/fuzz/run_all\.sh \d+((?: \w+)*)", line)
        run_one = re.fullmatch(r"bash tests/fuzz/run\.sh (\w+) \d+", line)
        assert make or run_all or run_one, line
        named = run_all.group(1).split() if run_all else [run_one.group(1)] if run_one else []
        for t in named:
            assert t in TARGETS, (line, t)


def test_scripts_need_their_arguments():
    for script in ("run_all.sh", "run.sh"):
        r = subprocess.run(["bash", str(FUZZ / script)], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "usage" in r.stderr, (script, r.stderr)
    r = subprocess.run(["bash", str(FUZZ / "run.sh"), "no_such_target", "1"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "no target" in r.stderr
