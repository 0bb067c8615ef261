"""`pip install .` builds a self-contained, platform-tagged wheel carrying libtorchless.so."""
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_the_library(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True)
    wheels = list(tmp_path.glob("torchless-*.whl"))
    assert len(wheels) == 1
    assert "none-any" not in wheels[0].name, "a wheel with a shared library must be platform-tagged"
    names = zipfile.ZipFile(wheels[0]).namelist()
    for f in ("torchless/__init__.py", "torchless/_lib.py", "torchless/libtorchless.so",
              "torchless/pipeline.py", "torchless/optimize.py", "torchless/tokenizer.py"):
        assert f in names, f
