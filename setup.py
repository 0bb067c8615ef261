"""Builds libtorchless.so and the torchless program with `make lib cli` and ships both inside
the torchless package (torchless/libtorchless.so, torchless/bin/torchless, run by the
`torchless` console command), so `pip install .` gives a self-contained package (the C
libraries they link — cJSON, utf8proc, PCRE2, OpenBLAS, oneDNN — come from the system:
`bash scripts/setup.sh` installs them)."""
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithLibrary(build_py):
    """build_py that first runs `make lib cli` and copies build/libtorchless.so and
    build/torchless into the package. In an editable install the package finds both in
    build/ instead (python/torchless/_lib.py, __main__.py)."""

    def run(self):
        subprocess.run(["make", "-C", str(ROOT), "lib", "cli"], check=True)
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest = Path(self.build_lib) / "torchless"
        (dest / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "build" / "libtorchless.so", dest / "libtorchless.so")
        shutil.copy2(ROOT / "build" / "torchless", dest / "bin" / "torchless")


class BinaryDistribution(Distribution):
    """Marks the wheel as platform-specific: it carries a compiled shared library."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
