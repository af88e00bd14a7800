"""Build of the spikeformer Python package (setuptools; metadata in pyproject.toml).

The package is pure Python over ctypes, but it ships the C library it calls: the build copies the
libspikeformer.so.0 built from this repository (or the one SPIKEFORMER_LIB names) and the energy
models (data/energy/*.json) into the package as spikeformer/_bundled/, so that
``pip install --no-build-isolation ./python`` gives an install that works on its own. Build the
library first (``make`` at the top of the repository); this refuses with a message otherwise.
"""
import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def library() -> str:
    env = os.environ.get("SPIKEFORMER_LIB")
    if env:
        if not os.path.isfile(env):
            raise SystemExit(f"spikeformer: SPIKEFORMER_LIB={env} is not a file; point it at a built libspikeformer.so")
        return env
    path = os.path.join(ROOT, "build", "libspikeformer.so.0")
    if not os.path.isfile(path):
        raise SystemExit(f"spikeformer: {path} is missing: build the C library first (run `make` in {ROOT}, or "
                         f"cmake -S {ROOT} -B {ROOT}/build && cmake --build {ROOT}/build), or set SPIKEFORMER_LIB=/path/to/libspikeformer.so")
    return path


def energy_models() -> list:
    d = os.environ.get("SPIKEFORMER_ENERGY_DIR") or os.path.join(ROOT, "data", "energy")
    files = sorted(glob.glob(os.path.join(d, "*.json")))
    if not files:
        raise SystemExit(f"spikeformer: no energy models (*.json) in {d}; build from the repository or set SPIKEFORMER_ENERGY_DIR")
    return files


class BuildPy(build_py):
    """build_py that bundles the library and the energy models into the package."""

    def run(self) -> None:
        lib, models = library(), energy_models()  # checked first: refuse before anything is built
        super().run()
        if self.dry_run:
            return
        dest = os.path.join(self.build_lib, "spikeformer", "_bundled")
        os.makedirs(os.path.join(dest, "energy"), exist_ok=True)
        target = os.path.join(dest, "libspikeformer.so.0")
        shutil.copyfile(os.path.realpath(lib), target)
        os.chmod(target, 0o755)
        for f in models:
            shutil.copyfile(f, os.path.join(dest, "energy", os.path.basename(f)))


class BinaryDistribution(Distribution):
    """The wheel holds a shared library: platform-specific, not py3-none-any."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildPy}, distclass=BinaryDistribution)
