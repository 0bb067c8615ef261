"""`pip install .` builds a self-contained, platform-tagged wheel carrying libtorchless.so
and the torchless program, and installs the `torchless` command (and `python -m torchless`)."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True)
    wheels = list(out.glob("torchless-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_carries_the_library(wheel):
    assert "none-any" not in wheel.name, "a wheel with a shared library must be platform-tagged"
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("torchless/__init__.py", "torchless/_lib.py", "torchless/libtorchless.so",
              "torchless/pipeline.py", "torchless/optimize.py", "torchless/tokenizer.py",
              "torchless/__main__.py", "torchless/bin/torchless"):
        assert f in names, f
    entry_points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert entry_points and "torchless = torchless.__main__:main" in \
        zipfile.ZipFile(wheel).read(entry_points[0]).decode()


def test_installed_command_and_module_run_the_program(wheel, tmp_path):
    """Installed into a target directory (not this environment): the console script and
    `python -m torchless` run the packaged program, away from the source tree."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                    str(target), str(wheel)], check=True)
    assert os.access(target / "torchless" / "bin" / "torchless", os.X_OK)
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("TORCHLESS_CLI", None)
    env.pop("TORCHLESS_LIB", None)
    for argv in ([str(target / "bin" / "torchless"), "--version"], [sys.executable, "-m", "torchless", "--version"]):
        p = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("torchless ")
    p = subprocess.run([sys.executable, "-c", "import torchless, torchless.__main__ as m; print(m.program())"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert p.stdout.strip() == str(target / "torchless" / "bin" / "torchless"), p.stderr


def test_setup_script_installs_the_package_editable():
    """scripts/setup.sh installs this checkout editable into .venv unless .venv already
    imports torchless from it (checked without importing, so before the library is built)."""
    text = (ROOT / "scripts" / "setup.sh").read_text()
    assert "pip install -q --no-deps --no-build-isolation -e ." in text
    assert 'find_spec("torchless")' in text and "/python/torchless/__init__.py" in text
