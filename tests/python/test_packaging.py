"""pip install --no-build-isolation ./python gives a package that works on its own (library and
energy models bundled), and refuses with a clear message when the library is not built."""
import os
import shutil
import subprocess
import sys

from conftest import ROOT

PIP = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index", "--disable-pip-version-check", "-q"]


def copy_package(dst):
    shutil.copytree(ROOT / "python", dst, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "_bundled"))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("SPIKEFORMER_LIB", "SPIKEFORMER_ENERGY_DIR", "PYTHONPATH")}
    env.update(extra)
    return env


def test_pip_install_bundles_library(tmp_path):
    copy_package(tmp_path / "python")
    lib = os.path.abspath(os.environ.get("SPIKEFORMER_LIB", str(ROOT / "build" / "libspikeformer.so")))
    site = tmp_path / "site"
    r = subprocess.run(PIP + ["--target", str(site), str(tmp_path / "python")], capture_output=True, text=True,
                       env=clean_env(SPIKEFORMER_LIB=lib, SPIKEFORMER_ENERGY_DIR=str(ROOT / "data" / "energy")))
    assert r.returncode == 0, r.stdout + r.stderr
    bundled = site / "spikeformer" / "_bundled"
    assert (bundled / "libspikeformer.so.0").is_file() and (bundled / "energy" / "45nm.json").is_file()
    assert (site / "spikeformer" / "py.typed").is_file()
    code = f"""
import numpy as np, os, spikeformer as sf
assert os.path.samefile(sf.library_path(), {str(bundled / 'libspikeformer.so.0')!r}), sf.library_path()
assert os.path.samefile(sf.energy_dir(), {str(bundled / 'energy')!r}), sf.energy_dir()
m = sf.load({str(ROOT / 'models/mlp/model.onnx')!r})
y = m.run(np.load({str(ROOT / 'models/mlp/sample_input.npy')!r}))
assert np.abs(y - np.load({str(ROOT / 'models/mlp/sample_logits.npy')!r})).max() < 1e-4
r = sf.convert(m, timesteps=4, calib_samples=64).profile(limit=32)
assert r["energy"] and r["energy_ratio_45nm"] > 0
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path), env=clean_env(PYTHONPATH=str(site)))
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_pip_install_refuses_without_library(tmp_path):
    copy_package(tmp_path / "python")  # no tmp_path/build: nothing built beside it
    r = subprocess.run(PIP + ["--target", str(tmp_path / "site"), str(tmp_path / "python")], capture_output=True, text=True,
                       env=clean_env())
    assert r.returncode != 0
    assert "build/libspikeformer.so.0 is missing: build the C library first (run `make`" in r.stdout + r.stderr
