"""Build and ABI: libtorchless.so exports exactly the functions of include/torchless.h; the
Python binding's struct mirrors and task names come from the library; `make install` gives
a copy that pkg-config finds and docs/examples/embed.c builds against; the link lines of
README.md and docs/c-api.md (parsed from the docs, so they cannot drift) build it too."""
import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EMBED = ROOT / "docs" / "examples" / "embed.c"


def header_functions():
    """Names of the functions include/torchless.h declares (comments stripped)."""
    text = re.sub(r"/\*.*?\*/", "", (ROOT / "include" / "torchless.h").read_text(), flags=re.S)
    return set(re.findall(r"\bTL_API\b[^;(]*?\b(tl_\w+)\s*\(", text))


def test_shared_library_exports_exactly_the_header():
    out = subprocess.run(["nm", "-D", "--defined-only", str(ROOT / "build" / "libtorchless.so")],
                         capture_output=True, text=True, check=True).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.strip()}
    declared = header_functions()
    assert len(declared) > 50
    assert exported - declared == set(), "exported but not in torchless.h"
    assert declared - exported == set(), "declared in torchless.h but not exported"


def test_every_header_declaration_carries_tl_api():
    text = re.sub(r"/\*.*?\*/", "", (ROOT / "include" / "torchless.h").read_text(), flags=re.S)
    all_funcs = set(re.findall(r"^[A-Za-z_][\w \*]*?\b(tl_\w+)\s*\(", text, re.M))
    assert all_funcs == header_functions()


def test_struct_sizes_match_the_binding():
    import torchless  # noqa: F401  (the package's __init__ rebinds the name _lib)

    _lib = sys.modules["torchless._lib"]
    for name, mirror in (("tl_encode_params", _lib.TlEncodeParams), ("tl_model_params", _lib.TlModelParams),
                         ("tl_batch", _lib.TlBatch), ("tl_embed_params", _lib.TlEmbedParams),
                         ("tl_tensor_view", _lib.TlTensorView), ("tl_context_params", _lib.TlContextParams),
                         ("tl_generate_params", _lib.TlGenerateParams)):
        assert _lib.lib.tl_struct_size(name.encode()) == ctypes.sizeof(mirror), name
    assert _lib.lib.tl_struct_size(b"tl_no_such_struct") == 0
    assert _lib.lib.tl_struct_size(None) == 0


def test_task_names_come_from_the_c_table():
    import torchless  # noqa: F401  (the package's __init__ rebinds the name _lib)

    _lib = sys.modules["torchless._lib"]
    pl = sys.modules["torchless.pipeline"]
    tasks = _lib.pipeline_tasks()
    assert "text-classification" in tasks and "sentence-similarity" in tasks
    assert pl.TASKS == tasks
    assert pl.TASK_ALIASES == _lib.pipeline_task_aliases()
    assert pl.TASK_ALIASES["sentiment-analysis"] == "text-classification"
    assert set(pl.TASK_ALIASES.values()) <= set(tasks)
    assert set(pl.DEFAULT_MODELS) == set(tasks), "a default checkpoint per C task"
    assert _lib.lib.tl_pipeline_task_name(len(tasks)) is None


def run_example(exe, model_dir, env=None):
    """Runs a built embed example on the model; returns its stdout (exit 0 asserted)."""
    p = subprocess.run([str(exe), str(model_dir)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "cosine(0, 1)" in p.stdout
    return p.stdout


@pytest.fixture(scope="module")
def reference_output(minilm_dir):
    """build/tests/example_embed's output (built by make with the Makefile's flags)."""
    return run_example(ROOT / "build" / "tests" / "example_embed", minilm_dir)


def test_make_install_and_pkg_config(tmp_path, minilm_dir, reference_output):
    dest = tmp_path / "stage"
    subprocess.run(["make", "-s", "install", f"DESTDIR={dest}", "PREFIX=/opt/tl"], cwd=ROOT, check=True,
                   capture_output=True)
    for f in ("lib/libtorchless.so", "lib/libtorchless.a", "include/torchless.h", "bin/torchless",
              "lib/pkgconfig/torchless.pc"):
        assert (dest / "opt/tl" / f).is_file(), f
    pc = (dest / "opt/tl/lib/pkgconfig/torchless.pc").read_text()
    assert "-ldnnl" in re.search(r"^Libs\.private:(.*)$", pc, re.M).group(1)
    env = dict(os.environ, PKG_CONFIG_PATH=str(dest / "opt/tl/lib/pkgconfig"), PKG_CONFIG_SYSROOT_DIR=str(dest),
               PKG_CONFIG_LIBDIR=str(dest / "opt/tl/lib/pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "torchless"], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    assert f"-I{dest}/opt/tl/include" in flags and "-ltorchless" in flags
    exe = tmp_path / "embed"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", str(EMBED), "-o", str(exe), *flags, "-lm"],
                   check=True)
    run_env = dict(os.environ, LD_LIBRARY_PATH=str(dest / "opt/tl/lib"))
    assert run_example(exe, minilm_dir, run_env) == reference_output
    ldd = subprocess.run(["ldd", str(exe)], env=run_env, capture_output=True, text=True).stdout
    assert str(dest / "opt/tl/lib/libtorchless.so") in ldd


def doc_commands(doc):
    """The sh lines of the c-api.md block that links build/libtorchless.a (continuations joined)."""
    for block in re.findall(r"```sh\n(.*?)```", doc, re.S):
        if "build/libtorchless.a" in block and "\nB=" in "\n" + block:
            return [l for l in block.replace("\\\n", " ").splitlines() if l.strip() and not l.startswith("#")]
    raise AssertionError("no link block in docs/c-api.md")


def build_with(cmd, tmp_path):
    """Runs a documented cc line in the repository root with app.c -> embed.c; returns the program."""
    shutil.copy(EMBED, tmp_path / "app.c")
    cmd = cmd.replace(" app.c ", f" {tmp_path / 'app.c'} ").replace(" -o app ", f" -o {tmp_path / 'app'} ")
    subprocess.run(["bash", "-ec", cmd], cwd=ROOT, check=True)
    return tmp_path / "app"


@pytest.mark.parametrize("kind", ["static", "shared"])
def test_c_api_doc_link_lines_build_the_example(tmp_path, minilm_dir, reference_output, kind):
    lines = doc_commands((ROOT / "docs" / "c-api.md").read_text())
    b = next(l for l in lines if l.startswith("B="))
    cc = [l for l in lines if l.startswith("cc ")]
    cmd = next(l for l in cc if ("libtorchless.a" in l) == (kind == "static"))
    exe = build_with(f"{b}\n{cmd}", tmp_path)
    assert run_example(exe, minilm_dir) == reference_output


def test_readme_static_link_line_builds_the_example(tmp_path, minilm_dir, reference_output):
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"`build/libtorchless\.a` plus\s+`([^`]+)`\s+where\s+`(B=[^`]+)`", readme)
    assert m, "README.md: the static link line moved; keep the test's pattern in step"
    exe = build_with(f"{m.group(2)}\ncc -std=c11 -Iinclude app.c -o app build/libtorchless.a {m.group(1)}", tmp_path)
    assert run_example(exe, minilm_dir) == reference_output
