"""Shared fixtures of the Python API tests: the CLI, the shipped models and data, and converted models.

Run by ctest as `python_api` (tests/CMakeLists.txt) with PYTHONPATH=<repo>/python,
SPIKEFORMER_LIB=<build>/libspikeformer.so and SF_CLI=<build>/spikeformer; by hand from the
repository root: SPIKEFORMER_LIB=build/libspikeformer.so SF_CLI=build/spikeformer \\
PYTHONPATH=python /usr/bin/python3 -m pytest -q tests/python
"""
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
os.environ.setdefault("SPIKEFORMER_LIB", str(ROOT / "build" / "libspikeformer.so"))

import spikeformer as sf  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
MODELS = {
    "mlp-onnx": ROOT / "models/mlp/model.onnx",
    "mlp-hf": ROOT / "models/mlp/hf",
    "vit-onnx": ROOT / "models/vit/model.onnx",
    "vit-hf": ROOT / "models/vit/hf",
}
# keys that measure time, memory or power: they differ between any two runs
VOLATILE = ("seconds", "rss", "joules")


def strip(doc, drop=()):
    """The document without its timing keys (and the keys in drop), recursively."""
    if isinstance(doc, dict):
        return {k: strip(v, drop) for k, v in doc.items() if not any(s in k for s in VOLATILE) and k not in drop}
    if isinstance(doc, list):
        return [strip(v, drop) for v in doc]
    return doc


def cli_path() -> str:
    p = os.environ.get("SF_CLI") or str(ROOT / "build" / "spikeformer")
    if not os.path.exists(p):
        pytest.skip(f"no CLI at {p} (set SF_CLI)")
    return p


def cli(*args, check=True) -> subprocess.CompletedProcess:
    """Run the spikeformer CLI; returns the completed process (stdout, stderr as text)."""
    r = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True)
    if check and r.returncode:
        raise AssertionError(f"spikeformer {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r


_n = itertools.count()


def cli_json(tmp: Path, *args) -> dict:
    """Run the CLI with --json FILE and return the document."""
    out = tmp / f"cli_{next(_n)}.json"
    cli(*args, "--json", out)
    return json.loads(out.read_text())


def cli_error(*args) -> str:
    """The message the CLI prints for a failing command (after 'spikeformer: error: ')."""
    r = cli(*args, check=False)
    assert r.returncode == 1, (r.returncode, r.stderr)
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("spikeformer: error: ")]
    assert line, r.stderr
    return r.stderr.split("spikeformer: error: ", 1)[1].rstrip("\n")


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sf")


@pytest.fixture(scope="session")
def converted(work):
    """The MLP and the ViT converted by the CLI (T=8): name -> (.sfm path, convert --json)."""
    out = {}
    for name in ("mlp", "vit"):
        sfm = work / f"{name}_cli.sfm"
        doc = cli_json(work, "convert", MODELS[f"{name}-onnx"], "--timesteps", 8, "-o", sfm)
        out[name] = (sfm, doc)
    return out


@pytest.fixture(scope="session")
def sample():
    """name -> (sample_input, sample_logits) of the shipped models."""
    return {n: (np.load(ROOT / f"models/{n}/sample_input.npy"), np.load(ROOT / f"models/{n}/sample_logits.npy")) for n in ("mlp", "vit")}
