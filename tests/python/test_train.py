"""sf.train gives what `spikeformer train` gives: the same per-epoch figures (timing aside), the
same test accuracy, and a model that evaluates the same; callbacks, errors, and the surrogates as
the library computes them (their formulas in train.h)."""
import json
import math
import signal
import subprocess

import numpy as np
import pytest

import spikeformer as sf
from spikeformer import _lib
from conftest import DATA, MODELS, cli, cli_error, cli_path, strip

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


def test_train_vit_matches_cli(work):
    """the ViT (its Hugging Face directory): Python and the CLI train the same network"""
    out, js = work / "vit.sfm", work / "vit.json"
    args = ["--epochs", 1, "--limit", 192, "--val", 64, "--timesteps", 2, "--batch", 64, "--calib-samples", 64, "--test-limit", 200]
    cli("train", MODELS["vit-hf"], "--data", DATA, "-o", out, "--json", js, "--threads", 1, *args)
    want = json.loads(js.read_text())
    sf.set_threads(1)
    snn, doc = sf.train(str(MODELS["vit-hf"]), data=DATA, test_limit=200, epochs=1, limit=192, val_images=64, timesteps=2, batch=64, calib_samples=64)
    assert strip(doc, drop=("images_per_second", "model")) == strip(want, drop=("images_per_second", "model"))
    assert doc["settings"]["surrogate"] == "triangle" and doc["settings"]["rate_penalty"] == 3
    b = snn.evaluate(DATA, limit=200, ann=False)
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


CK_ARGS = ["--epochs", 3, "--limit", 3000, "--val", 500, "--timesteps", 4, "--batch", 50, "--seed", 5, "--no-test", "--threads", 1]


def test_cli_sigterm_checkpoint_resume(work):
    """SIGTERM mid-run: the step finishes, the checkpoint is written, exit 130 with a message; the same
    command with --resume ends with the model, byte for byte, that the run without a stop saves."""
    ref = work / "ck_ref.sfm"
    cli("train", MODELS["mlp-onnx"], "--data", DATA, "-o", ref, *CK_ARGS)
    out, ck = work / "ck_out.sfm", work / "run.ck"
    cmd = [cli_path(), "train", str(MODELS["mlp-onnx"]), "--data", str(DATA), "-o", str(out), "--checkpoint", str(ck), *map(str, CK_ARGS)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:  # the table's header: training has started (3 epochs of 60 steps are still ahead)
        line = p.stdout.readline()
        assert line, p.stderr.read()
        if line.startswith("epoch"):
            break
    p.send_signal(signal.SIGTERM)
    rest, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    assert "stopped" in err and f"--resume {ck}" in err
    assert ck.exists() and not out.exists()
    r = cli("train", MODELS["mlp-onnx"], "--data", DATA, "-o", out, "--checkpoint", ck, "--resume", ck, *CK_ARGS)
    assert "resuming" in r.stderr or r.returncode == 0
    assert out.read_bytes() == ref.read_bytes()
    # a checkpoint is refused for another run, naming the setting
    msg = cli_error("train", MODELS["mlp-onnx"], "--data", DATA, "-o", work / "other.sfm", "--resume", ck, *CK_ARGS, "--lr", "0.002")
    assert "belongs to another run" in msg and "lr" in msg and not (work / "other.sfm").exists()


def test_python_stop_and_resume(work):
    """An exception in on_epoch stops the run (after writing the checkpoint) and is re-raised;
    resume= continues it to the result of the run that was not stopped."""
    args = dict(epochs=2, limit=2000, val_images=500, timesteps=4, batch=100, seed=2, test=False)
    sf.set_threads(1)
    want, _ = sf.train(str(MODELS["mlp-onnx"]), data=DATA, **args)
    ck = work / "py.ck"

    def stop_after_first(e):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sf.train(str(MODELS["mlp-onnx"]), data=DATA, checkpoint=str(ck), on_epoch=stop_after_first, **args)
    assert ck.exists()
    got, doc = sf.train(str(MODELS["mlp-onnx"]), data=DATA, checkpoint=str(ck), resume=str(ck), **args)
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    a, b = work / "want.sfm", work / "got.sfm"
    want.save(str(a))
    got.save(str(b))
    assert a.read_bytes() == b.read_bytes()


def test_distillation(work):
    """--teacher / teacher=: the teacher's logits enter the loss (the run differs from one without,
    and says so in its JSON); a teacher of other classes is refused, naming both."""
    import torch
    args = dict(epochs=1, limit=1500, val_images=500, timesteps=4, batch=100, seed=2, test=False)
    sf.set_threads(1)
    _, plain = sf.train(str(MODELS["mlp-onnx"]), data=DATA, kd_alpha=0, **args)
    _, kd = sf.train(str(MODELS["mlp-onnx"]), data=DATA, kd_alpha=1.0, kd_temperature=2, **args)
    _, default = sf.train(str(MODELS["mlp-onnx"]), data=DATA, **args)
    _, direct = sf.train(str(MODELS["mlp-onnx"]), data=DATA, mode="direct", **args)
    assert plain["settings"]["kd_alpha"] == 0 and "teacher" not in plain["settings"]
    # hybrid distils from the source ANN by default (alpha 1, tau 4) at lr 3e-4; direct does neither
    assert default["settings"]["kd_alpha"] == 1 and default["settings"]["kd_temperature"] == 4 and default["settings"]["lr"] == 3e-4
    assert direct["settings"]["kd_alpha"] == 0 and direct["settings"]["lr"] == 1e-3
    assert kd["settings"]["kd_alpha"] == 1.0 and kd["settings"]["teacher"] == "the model's ANN"
    assert kd["epochs"][0]["train_loss"] != plain["epochs"][0]["train_loss"]
    # the CLI: the same figures with the same teacher
    js = work / "kd.json"
    cli("train", MODELS["mlp-onnx"], "--data", DATA, "-o", work / "kd.sfm", "--kd-alpha", 1, "--kd-temperature", 2, "--json", js, "--threads", 1,
        "--epochs", 1, "--limit", 1500, "--val", 500, "--timesteps", 4, "--batch", 100, "--seed", 2, "--no-test")
    assert json.loads(js.read_text())["epochs"][0]["train_loss"] == kd["epochs"][0]["train_loss"]
    five = sf.from_torch(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 5)), torch.zeros(1, 1, 28, 28))
    with pytest.raises(sf.Error, match=r"not \[batch, 10\] logits"):
        sf.train(str(MODELS["mlp-onnx"]), data=DATA, teacher=five, **args)


def test_modes_and_options_from_python(work):
    """qcfs, pruning, QAT and recompute by keyword, as the CLI flags: the JSON says what ran."""
    args = dict(epochs=1, limit=1000, val_images=300, timesteps=4, batch=100, seed=4, test=False)
    sf.set_threads(1)
    snn, doc = sf.train(str(MODELS["mlp-onnx"]), data=DATA, mode="qcfs", **args)
    assert doc["mode"] == "qcfs" and 0.5 < doc["epochs"][0]["val_accuracy"] <= 1
    _, doc = sf.train(str(MODELS["mlp-onnx"]), data=DATA, prune=0.5, lr=1e-3, **args)
    assert abs(doc["sparsity"] - 0.5) < 0.01 and doc["settings"]["prune_scope"] == "global"
    _, doc = sf.train(str(MODELS["mlp-onnx"]), data=DATA, qat="int8", **args)
    assert doc["settings"]["qat"] == "int8"
    _, whole = sf.train(str(MODELS["mlp-onnx"]), data=DATA, **dict(args, timesteps=8))
    _, rec = sf.train(str(MODELS["mlp-onnx"]), data=DATA, recompute=2, **dict(args, timesteps=8))
    assert rec["settings"]["recompute"] == 2 and rec["state_bytes"] < whole["state_bytes"]
    with pytest.raises(sf.Error, match="qat"):
        sf.train(str(MODELS["mlp-onnx"]), data=DATA, qat="int4", **args)


def test_hybrid_from_a_converted_model(work):
    """An .sfm starts hybrid training from its own thresholds and T (sf_train_snn), from Python and
    the CLI alike; other modes are refused for it."""
    sfm = work / "start.sfm"
    cli("convert", MODELS["mlp-onnx"], "-o", sfm, "--neuron", "if", "--timesteps", 4, "--calib-samples", 256)
    args = dict(epochs=1, limit=1500, val_images=500, batch=100, seed=6, test=False)
    sf.set_threads(1)
    _, doc = sf.train(sf.load(str(sfm)), data=DATA, **args)
    assert doc["settings"]["timesteps"] == 4 and doc["epochs"][0]["val_accuracy"] > 0.8
    js = work / "from_sfm.json"
    cli("train", sfm, "--data", DATA, "-o", work / "t.sfm", "--json", js, "--threads", 1, "--epochs", 1, "--limit", 1500, "--val", 500, "--batch", 100,
        "--seed", 6, "--no-test")
    assert json.loads(js.read_text())["epochs"][0]["train_loss"] == doc["epochs"][0]["train_loss"]
    with pytest.raises(sf.Error, match="starts hybrid training"):
        sf.train(str(sfm), data=DATA, mode="direct", **args)
