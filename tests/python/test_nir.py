"""NIR from Python (SNNModel.export, import_nir): the same files and reports as `spikeformer export --format nir`
and `spikeformer import`, the generic round trip bit for bit, and the library's errors as spikeformer.Error."""
import json

import numpy as np
import pytest

import spikeformer as sf
from conftest import MODELS, ROOT, cli, cli_json


@pytest.fixture(scope="module")
def mlp_if(work):
    p = work / "mlp_if_nir.sfm"
    cli("convert", MODELS["mlp-onnx"], "--neuron", "if", "--calib-samples", 128, "-o", p)
    return p


def test_export_matches_cli(work, mlp_if):
    m = sf.load(mlp_if)
    for d in ("generic", "snntorch", "lava"):
        rep = m.export(work / f"py_{d}.nir", dialect=d)
        doc = cli_json(work, "export", mlp_if, "--format", "nir", "--nir-dialect", d, "-o", work / f"cli_{d}.nir")
        assert rep["nodes"] == doc["nodes"] and rep["dialect"] == d and rep["thresholds_folded"] == (d != "generic")
        assert (work / f"py_{d}.nir").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert [n["type"] for n in rep["nodes"]] == ["Input", "Flatten", "Affine", "IF", "Affine", "IF", "Affine", "Output"]


def test_round_trip_bit_for_bit(work, mlp_if, sample):
    m = sf.load(mlp_if)
    m.export(work / "rt.nir")
    back, rep = sf.import_nir(work / "rt.nir")
    assert rep["neuron_layers"] == 2 and rep["dt"] == 1e-4
    x = sample["mlp"][0]
    a = m.run(x, timesteps=8)
    b = back.run(x, timesteps=8)
    a, b = (a[0] if isinstance(a, (list, tuple)) else a), (b[0] if isinstance(b, (list, tuple)) else b)
    assert np.array_equal(a, b)
    e1, e2 = m.evaluate(limit=64, timesteps=8), back.evaluate(limit=64, timesteps=8)
    assert e1["snn_accuracy_by_t"] == e2["snn_accuracy_by_t"]
    back.save(work / "rt.sfm")
    assert isinstance(sf.load(work / "rt.sfm"), sf.SNNModel)


def test_errors(work, mlp_if):
    vit = work / "vit_nir.sfm"
    cli("convert", ROOT / "models/vit/model.onnx", "--neuron", "if", "--calib-samples", 32, "-o", vit)
    with pytest.raises(sf.Error, match=r"node '/vit/embeddings/patch_embeddings/Reshape' \(Reshape\): NIR has no node for this op"):
        sf.load(vit).export(work / "vit.nir")
    assert not (work / "vit.nir").exists()
    rep = sf.load(vit).export(work / "vit_part.nir", partial=True)
    assert rep["stopped_before"]["node"] == "/vit/embeddings/patch_embeddings/Reshape"
    cnn = work / "cnn_nir.sfm"
    cli("convert", ROOT / "models/variants/cnn_bn_maxpool/model.onnx", "--neuron", "if", "--calib-samples", 32, "-o", cnn)
    rep = sf.load(cnn).export(work / "cnn.nir")
    assert any("OR of the window" in w for w in rep["warnings"])
    with pytest.raises(ValueError):
        sf.load(mlp_if).export(work / "x.nir", format="onnx")
    with pytest.raises(sf.Error, match="unknown dialect"):
        sf.load(mlp_if).export(work / "x.nir", dialect="nest")
    (work / "bad.nir").write_bytes(b"not hdf5")
    with pytest.raises(sf.Error, match="not an HDF5 file"):
        sf.import_nir(work / "bad.nir")
