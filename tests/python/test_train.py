"""sf.train gives what `spikeformer train` gives: the same per-epoch figures (timing aside), the
same test accuracy, and a model that evaluates the same; callbacks, errors, and the surrogates as
the library computes them (their formulas in train.h)."""
import json
import math

import numpy as np
import pytest

import spikeformer as sf
from spikeformer import _lib
from conftest import DATA, MODELS, cli, cli_error, strip

ARGS = {"epochs": 1, "limit": 1500, "val_images": 500, "timesteps": 4, "batch": 64, "seed": 3}
CLI_ARGS = ["--epochs", 1, "--limit", 1500, "--val", 500, "--timesteps", 4, "--batch", 64, "--seed", 3, "--test-limit", 300]


@pytest.mark.parametrize("mode", ["hybrid", "direct"])
def test_train_matches_cli(work, mode):
    out = work / f"train_{mode}.sfm"
    js = work / f"train_{mode}.json"
    cli("train", MODELS["mlp-onnx"], "--data", DATA, "-o", out, "--mode", mode, "--json", js, "--threads", 1, *CLI_ARGS)
    want = json.loads(js.read_text())
    sf.set_threads(1)
    epochs = []
    snn, doc = sf.train(str(MODELS["mlp-onnx"]), data=DATA, test_limit=300, mode=mode, on_epoch=epochs.append, **ARGS)
    assert strip(doc, drop=("images_per_second", "model")) == strip(want, drop=("images_per_second", "model"))
    assert [e["epoch"] for e in epochs] == [1] and epochs[0]["train_loss"] == doc["epochs"][0]["train_loss"]
    assert 0.7 < doc["test_accuracy"] <= 1
    # the model: saved by the CLI, returned by Python, the same network
    a = sf.load(str(out)).evaluate(DATA, limit=300, ann=False)
    b = snn.evaluate(DATA, limit=300, ann=False)
    assert a["snn_accuracy_by_t"] == b["snn_accuracy_by_t"]
    assert math.isclose(b["snn_accuracy_by_t"][-1], doc["test_accuracy"])


def test_train_errors(work):
    with pytest.raises(sf.Error, match="surrogate"):
        sf.train(str(MODELS["mlp-onnx"]), data=DATA, surrogate="gaussian")
    with pytest.raises(sf.Error, match="cannot be trained"):
        sf.train(str(MODELS["vit-onnx"]), data=DATA, limit=64, val_images=0, epochs=1, test=False)
    msg = cli_error("train", MODELS["vit-onnx"], "--data", DATA, "-o", work / "x.sfm", "--limit", 64, "--val", 0, "--epochs", 1)
    assert "cannot be trained" in msg and not (work / "x.sfm").exists()

    def boom(e):
        raise KeyError("from the callback")
    with pytest.raises(KeyError, match="from the callback"):
        sf.train(str(MODELS["mlp-onnx"]), data=DATA, on_epoch=boom, test=False, epochs=1, limit=256, val_images=64)


def test_surrogates_are_the_documented_formulas():
    L = _lib.lib()
    z = np.linspace(-2, 2, 41, dtype=np.float32)
    formulas = {
        "fast_sigmoid": lambda k, z: 1 / (1 + k * np.abs(z)) ** 2,
        "atan": lambda a, z: (a / 2) / (1 + (np.pi / 2 * a * z) ** 2),
        "sigmoid": lambda k, z: k * np.exp(-k * z) / (1 + np.exp(-k * z)) ** 2,
        "triangle": lambda a, z: np.maximum(0, a - a * a * np.abs(z)),
        "straight_through": lambda a, z: np.ones_like(z),
    }
    defaults = {"fast_sigmoid": 25, "atan": 2, "sigmoid": 25, "triangle": 1, "straight_through": 1}
    for name, f in formulas.items():
        kind = _lib.c_int()
        assert L.sf_surrogate_parse(name.encode(), kind) == 0
        assert L.sf_surrogate_default_slope(kind) == defaults[name]
        for slope in (0.5, 2.0, 5.0):
            got = np.array([L.sf_surrogate_grad(kind, slope, float(v)) for v in z])
            assert np.allclose(got, f(slope, z.astype(np.float64)), rtol=1e-5, atol=1e-7), name
