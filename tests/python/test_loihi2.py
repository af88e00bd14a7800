"""The loihi2 backend and the netx export from Python give what the CLI gives: the mapping report,
the evaluation on the emulator (options by name), and the netx file's contents."""
import numpy as np
import pytest

import spikeformer as sf
from conftest import DATA, MODELS, cli, cli_json, strip

h5py = pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def mlp_if(work):
    sfm = work / "mlp_if16.sfm"
    cli("convert", MODELS["mlp-onnx"], "--neuron", "if", "--timesteps", 16, "--calib-samples", 256, "-o", sfm)
    return sfm


def test_compile_report_matches_cli(work, mlp_if):
    want = cli_json(work, "compile", mlp_if, "--calibrate", 40, "--backend-opt", "exclude_cores=1", "--backend-opt", "vth_scale=1.5")
    got = sf.load(str(mlp_if)).compile(calibrate=40, exclude_cores="1", vth_scale=1.5)
    assert strip(got) == strip(want)
    assert got["cores"] >= 1 and got["chips"] == 1 and got["excluded_cores_skipped"] == 1
    assert got["per_inference"]["spikes"] > 0 and got["per_inference"]["messages_between_chips"] == 0


def test_eval_on_loihi2_matches_cli(work, mlp_if):
    want = cli_json(work, "eval", mlp_if, "--backend", "loihi2", "--limit", 150, "--no-ann", "--backend-opt", "weight_percentile=99.5")
    got = sf.load(str(mlp_if)).evaluate(DATA, limit=150, ann=False, backend="loihi2", weight_percentile=99.5)
    assert strip(got) == strip(want)
    assert got["snn_accuracy_by_t"][-1] > 0.7
    rep = got["backend_report"]                          # the loihi2 report of the run itself
    assert rep["cores"] == 3 and rep["per_inference"]["samples"] == 150 and rep["per_inference"]["energy_joules"] > 0


def test_export_netx_matches_cli(work, mlp_if):
    a, b = work / "cli.net", work / "py.net"
    cli("export", mlp_if, "--format", "netx", "-o", a, "--backend-opt", "input_exp=7")
    rep = sf.load(str(mlp_if)).export(str(b), format="netx", input_exp=7)
    assert rep["format"] == "netx" and rep["output_bytes"] > 0

    def contents(path):
        out = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, o: out.__setitem__(name, o[()]) if isinstance(o, h5py.Dataset) else None)
        return out

    ca, cb = contents(a), contents(b)
    assert ca.keys() == cb.keys() and ca["layer/0/input_scale_exp"] == 7
    for k in ca:
        assert np.array_equal(ca[k], cb[k]), k
    with pytest.raises(ValueError):
        sf.load(str(mlp_if)).export(str(work / "x.nir"), format="nir", input_exp=7)
    with pytest.raises(ValueError):
        sf.load(str(mlp_if)).export(str(work / "x.bin"), format="onnx")
