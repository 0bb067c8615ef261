"""Builds libtorchless.so with `make lib` and ships it inside the torchless package, so
`pip install .` gives a self-contained package (the C libraries it links — cJSON,
utf8proc, PCRE2, OpenBLAS — come from the system: `bash scripts/setup.sh` installs them)."""
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithLibrary(build_py):
    """build_py that first runs `make lib` and copies build/libtorchless.so into the package."""

    def run(self):
        subprocess.run(["make", "-C", str(ROOT), "lib"], check=True)
        super().run()
        dest = Path(self.build_lib) / "torchless"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "build" / "libtorchless.so", dest / "libtorchless.so")


class BinaryDistribution(Distribution):
    """Marks the wheel as platform-specific: it carries a compiled shared library."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
