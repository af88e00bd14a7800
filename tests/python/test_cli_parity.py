"""The Python API gives what the CLI gives: the same documents (timing keys aside) and the same
arrays, bit for bit, on the shipped models and Fashion-MNIST."""
import json

import numpy as np
import pytest

import spikeformer as sf
from conftest import DATA, MODELS, ROOT, cli, cli_json, strip

LIMIT = 200


@pytest.mark.parametrize("name", list(MODELS))
def test_analyze(work, name):
    m = sf.load(str(MODELS[name]))
    assert isinstance(m, sf.Model)
    want = cli_json(work, "analyze", MODELS[name])
    assert m.analyze(full=True) == want
    assert m.analyze() == want["layers"]
    if name == "vit-onnx":
        assert m.analyze(batch=4, fuse=False, full=True) == cli_json(work, "analyze", MODELS[name], "--batch", 4, "--no-fuse")


@pytest.mark.parametrize("name", list(MODELS))
def test_ann_eval(work, name):
    m = sf.load(str(MODELS[name]))
    want = cli_json(work, "eval", MODELS[name], "--limit", LIMIT)
    got = m.evaluate(DATA, limit=LIMIT)
    assert strip(got) == strip(want)
    assert got["samples"] == LIMIT and 0.8 < got["accuracy"] <= 1


def test_ann_eval_options(work):
    """--split train --batch 64 --predictions FILE"""
    m = sf.load(str(MODELS["mlp-onnx"]))
    pred = work / "pred.npy"
    want = cli_json(work, "eval", MODELS["mlp-onnx"], "--limit", 300, "--split", "train", "--batch", 64, "--predictions", pred)
    got = m.evaluate(data=DATA, limit=300, split="train", batch=64, predictions=True)
    p = got.pop("predictions")
    assert strip(got) == strip(want)
    assert p.dtype == np.int64 and np.array_equal(p, np.load(pred))


@pytest.mark.parametrize("name", list(MODELS))
def test_ann_run(work, sample, name):
    x, logits = sample[name.split("-")[0]]
    out = work / f"run_{name}"
    cli("run", MODELS[name], "--input", ROOT / f"models/{name.split('-')[0]}/sample_input.npy", "-o", out)
    want = np.load(out / "output_0.npy")
    m = sf.load(str(MODELS[name]))
    y = m.run(x)
    assert y.dtype == want.dtype and y.shape == want.shape
    assert np.array_equal(y, want)                      # bit for bit
    assert np.abs(y - logits).max() < 1e-4              # and PyTorch's logits
    allo = m.run({m.inputs[0]["name"]: x})               # inputs by name: every output by name
    assert list(allo) == m.outputs and np.array_equal(allo[m.outputs[0]], want)
    assert np.array_equal(m.run(x.astype(np.float64)), want)  # cast by the library, as the CLI casts a float64 file


@pytest.mark.parametrize("name", ["mlp", "vit"])
def test_convert(work, converted, name):
    sfm, want = converted[name]
    m = sf.load(str(MODELS[f"{name}-onnx"]))
    snn = sf.convert(m, calib=DATA, timesteps=8)
    out = work / f"{name}_py.sfm"
    snn.save(str(out))
    got = snn.summary()
    assert got["output"] == str(out)
    assert strip(got, drop=("output",)) == strip(want, drop=("output",))
    assert snn.thresholds() and [t["site"] for t in snn.thresholds()] == [t["site"] for t in want["thresholds"]]
    loaded = sf.load(str(sfm))
    assert isinstance(loaded, sf.SNNModel) and loaded.timesteps == 8 and loaded.source_sha256 == want["source_sha256"]


def test_convert_options(work):
    """Every kind of option value (choice, number, boolean, SpikingConfig key) as the CLI's flags set it."""
    sfm = work / "mlp_opts_cli.sfm"
    want = cli_json(work, "convert", MODELS["mlp-onnx"], "--neuron", "if", "--percentile", 99.5, "--per-layer", "--relu-ec", "--timesteps", 6,
                    "--calib-samples", 200, "--seed", 7, "--set", "hardware_constraints.max_fan_in=4096", "-o", sfm)
    m = sf.load(str(MODELS["mlp-onnx"]))
    snn = sf.convert(m, DATA, neuron="if", percentile=99.5, per_channel=False, relu_ec=True, timesteps=6, calib_samples=200, seed=7,
                     **{"hardware_constraints.max_fan_in": 4096})
    snn.save(str(work / "mlp_opts_py.sfm"))
    assert strip(snn.summary(), drop=("output",)) == strip(want, drop=("output",))
    o = snn.options
    assert (o["neuron"], o["policy"], o["percentile"], o["per_channel"], o["relu_ec"], o["timesteps"], o["max_fan_in"]) == \
        ("if", "percentile", 99.5, False, True, 6, 4096)
    cli_eval = cli_json(work, "eval", sfm, "--limit", LIMIT)
    assert strip(snn.evaluate(DATA, limit=LIMIT), drop=("model",)) == strip(cli_eval, drop=("model",))


@pytest.mark.parametrize("name", ["mlp", "vit"])
def test_snn_eval(work, converted, name):
    sfm, _ = converted[name]
    want = cli_json(work, "eval", sfm, "--limit", LIMIT)
    snn = sf.load(str(sfm))
    got = snn.evaluate(data=DATA, limit=LIMIT)
    assert strip(got) == strip(want)
    assert len(got["snn_accuracy_by_t"]) == 8 and got["ann_evaluated"] and got["layers"]
    # the model converted in memory gives the same numbers (it is called by its source's name)
    mem = sf.convert(sf.load(str(MODELS[f"{name}-onnx"])), DATA, timesteps=8)
    assert strip(mem.evaluate(DATA, limit=LIMIT), drop=("model",)) == strip(want, drop=("model",))


def test_snn_eval_backend_options(work, converted):
    sfm, _ = converted["mlp"]
    args = ("--timesteps", 12, "--quant", "int8", "--path", "event", "--schedule", "step", "--encoding", "rate", "--decoder", "count",
            "--batch", 64, "--no-ann")
    want = cli_json(work, "eval", sfm, "--limit", LIMIT, *args)
    got = sf.load(str(sfm)).evaluate(DATA, timesteps=12, limit=LIMIT, batch=64, ann=False, quant="int8", path="event", schedule="step",
                                     encoding="rate", decoder="count")
    assert strip(got) == strip(want)
    assert got["quant"] == "int8" and not got["ann_evaluated"]


def test_profile(work, converted):
    sfm, _ = converted["vit"]
    want = cli_json(work, "profile", sfm, "--timesteps", 4, "--limit", 100)
    got = sf.load(str(sfm)).profile(DATA, timesteps=4, limit=100)
    assert strip(got) == strip(want)
    assert got["energy"] and "energy_ratio_45nm" in got


@pytest.mark.parametrize("name,args", [("mlp", {}), ("vit", {}), ("mlp", {"timesteps": 5, "quant": "int8"}), ("vit", {"path": "dense"})])
def test_snn_run(work, converted, sample, name, args):
    sfm, _ = converted[name]
    out = work / f"snnrun_{name}_{len(args)}"
    flags = [f for k, v in args.items() for f in (f"--{k}", v)]
    cli("run", sfm, "--input", ROOT / f"models/{name}/sample_input.npy", "-o", out, *flags)
    want = np.load(out / "output_0.npy")
    got = sf.load(str(sfm)).run(sample[name][0], **args)
    assert got.dtype == np.float32 and np.array_equal(got, want)


def test_snn_run_frames(work, converted, sample):
    sfm, _ = converted["mlp"]
    x = sample["mlp"][0]
    clips = np.stack([x * (1 + 0.1 * t) for t in range(3)], axis=1).astype(np.float32)  # [batch, T=3, 1, 28, 28]
    np.save(work / "clips.npy", clips)
    cli("run", sfm, "--frames", work / "clips.npy", "-o", work / "frames")
    want = np.load(work / "frames" / "output_0.npy")
    assert np.array_equal(sf.load(str(sfm)).run_frames(clips), want)


def test_validate(converted):
    sfm, _ = converted["vit"]
    snn = sf.load(str(sfm))
    v = snn.validate()
    out = cli("validate", sfm).stdout
    assert v["valid"] and f"valid ({v['nodes_checked']} nodes checked, max fan-in {v['max_fan_in']})" in out
    bad = snn.validate(max_fan_in=64)
    r = cli("validate", sfm, "--max-fan-in", 64, check=False)
    assert not bad["valid"] and r.returncode == 1
    assert [ln.strip() for ln in r.stdout.splitlines()[1:]] == bad["errors"]
    assert f"INVALID ({len(bad['errors'])} problem" in r.stdout


def test_report(work, converted):
    sfm, _ = converted["mlp"]
    snn = sf.load(str(sfm))
    html = work / "report.html"
    doc = snn.report(str(html), data=DATA, limit=100, timesteps=4)
    text = html.read_text()
    assert text.startswith("<!DOCTYPE html>") or "<html" in text[:200]
    assert "<svg" in text and len(doc["snn_accuracy_by_t"]) == 4
    out = cli("report", sfm, "-o", work / "report_cli.html", "--limit", 100, "--timesteps", 4).stdout
    assert f"SNN {100 * doc['snn_accuracy_by_t'][-1]:.2f}% vs ANN {100 * doc['ann_accuracy']:.2f}%" in out


def test_optimize(work):
    args = dict(val_limit=200, test_limit=100, tmax=2)
    want = cli_json(work, "optimize", MODELS["mlp-onnx"], "--max-drop", 5, "--limit", 200, "--test-limit", 100, "--tmax", 2, "-o",
                    work / "opt_cli.sfm")
    m = sf.load(str(MODELS["mlp-onnx"]))
    snn, doc = sf.optimize(m, 5, calib=DATA, data=DATA, **args)
    assert strip(doc) == strip(want)
    # the model handed over from the result is the one the CLI saved
    snn.save(str(work / "opt_py.sfm"))
    cli_model = sf.load(str(work / "opt_cli.sfm"))
    assert snn.thresholds() == cli_model.thresholds()
    assert snn.timesteps == cli_model.timesteps == doc["test"]["optimized_t"]
    assert snn.summary()["model"] == str(MODELS["mlp-onnx"])
    # the report draws the optimiser's front from the dict
    snn.report(str(work / "opt.html"), data=DATA, limit=50, optimize_json=doc)


def test_ops_config_version(work):
    lines = cli("ops").stdout.splitlines()
    ops = sf.ops()
    assert len(ops) == len(lines) and ops[0]["op_type"] in lines[0]
    assert {o["op_type"] for o in ops} >= {"MatMul", "Softmax", "LayerNormalization", "Conv", "Gemm"}
    assert sf.config(timesteps=4, neuron="if", **{"hardware_constraints.max_fan_in": 256}) == \
        json.loads(cli("config", "--timesteps", 4, "--neuron", "if", "--set", "hardware_constraints.max_fan_in=256").stdout)
    assert cli("version").stdout.startswith(f"spikeformer {sf.version()}\n")
    assert [b["name"] for b in sf.backends()] == ["cpu", "loihi2"] and "quant" in sf.backends()[0]["options"]
    assert "exclude_cores" in sf.backends()[1]["options"] and "family" in sf.backends()[1]["options"]


@pytest.mark.parametrize("name", ["gpt2_lm", "bert_cls"])
def test_text_model_run(work, name):
    """Token models: int64 inputs by name, the attention mask left out (all ones) or given."""
    d = ROOT / "models/hf_text" / name
    ids = np.load(d / "input_ids.npy")
    out = work / f"text_{name}"
    cli("run", d, "--input", f"input_ids={d / 'input_ids.npy'}", "-o", out)
    m = sf.load(str(d))
    got = m.run({"input_ids": ids})
    assert list(got) == m.outputs
    for i, k in enumerate(m.outputs):
        assert np.array_equal(got[k], np.load(out / f"output_{i}.npy"))
    if (d / "attention_mask.npy").exists():
        mask = np.load(d / "attention_mask.npy")
        cli("run", d, "--input", f"input_ids={d / 'input_ids.npy'}", "--input", f"attention_mask={d / 'attention_mask.npy'}", "-o", out / "m")
        assert np.array_equal(m.run({"input_ids": ids, "attention_mask": mask})[m.outputs[0]], np.load(out / "m" / "output_0.npy"))
