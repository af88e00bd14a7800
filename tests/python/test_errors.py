"""Bad input raises spikeformer.Error carrying the library's message and status, the message the
CLI prints for the same mistake."""
import os
import subprocess
import sys

import numpy as np
import pytest

import spikeformer as sf
from conftest import DATA, MODELS, ROOT, cli_error


def test_error_type():
    assert issubclass(sf.Error, RuntimeError)
    with pytest.raises(sf.Error) as e:
        sf.load("/nonexistent/model.onnx")
    assert e.value.status == "i/o error" and e.value.code == 1
    assert e.value.message == str(e.value) == "/nonexistent/model.onnx: no such file or directory"


def test_missing_file_as_cli():
    with pytest.raises(sf.Error) as e:
        sf.load("/nonexistent.onnx")
    assert e.value.message == cli_error("analyze", "/nonexistent.onnx")


def test_truncated_onnx_as_cli(tmp_path):
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(MODELS["mlp-onnx"].read_bytes()[:1000])
    with pytest.raises(sf.Error) as e:
        sf.load(str(bad))
    assert e.value.status == "format error" and "truncated" in e.value.message
    assert e.value.message == cli_error("analyze", bad)


def test_corrupt_sfm(tmp_path, converted):
    sfm, _ = converted["mlp"]
    b = bytearray(sfm.read_bytes())
    b[len(b) // 2] ^= 0xFF
    bad = tmp_path / "flipped.sfm"
    bad.write_bytes(bytes(b))
    with pytest.raises(sf.Error) as e:
        sf.load(str(bad))
    assert e.value.status == "format error" and e.value.message == cli_error("validate", bad)


def test_wrong_input_shape(converted):
    m = sf.load(str(MODELS["mlp-onnx"]))
    with pytest.raises(sf.Error) as e:
        m.run(np.zeros((2, 3, 5, 5), np.float32))
    assert e.value.status == "shape error"
    assert "input 'pixel_values': the model expects f32 [?,1,28,28], got f32 [2,3,5,5]" in e.value.message
    with pytest.raises(sf.Error) as e:
        m.run({"no_such_input": np.zeros((1, 1, 28, 28), np.float32)})
    assert "has no input named 'no_such_input' (inputs: pixel_values)" in e.value.message
    with pytest.raises(sf.Error) as e:
        sf.load(str(converted["mlp"][0])).run(np.zeros((1, 3, 28, 28), np.float32))
    assert e.value.status == "shape error"
    with pytest.raises(TypeError):
        m.run(np.zeros((1, 1, 28, 28), np.complex64))


def test_unknown_convert_option():
    m = sf.load(str(MODELS["mlp-onnx"]))
    with pytest.raises(sf.Error) as e:
        sf.convert(m, DATA, bogus=1)
    assert e.value.status == "argument error" and e.value.message.startswith("unknown convert option 'bogus' (policy, percentile")
    with pytest.raises(sf.Error) as e:
        sf.convert(m, DATA, neuron="quantum")
    assert e.value.message == "config key 'neuron_model': unknown value 'quantum' (one of: if, lif, burst)"
    with pytest.raises(sf.Error) as e:
        sf.convert(m, DATA, percentile=0)
    assert "percentile" in e.value.message
    with pytest.raises(sf.Error) as e:
        sf.convert(m, "/nonexistent-data")
    assert e.value.status == "i/o error" and e.value.message == "/nonexistent-data: data folder not found"


def test_unknown_backend_and_options(converted, sample):
    snn = sf.load(str(converted["mlp"][0]))
    x = sample["mlp"][0]
    with pytest.raises(sf.Error) as e:
        snn.run(x, bogus="x")
    assert e.value.message == "backend 'cpu' has no option 'bogus' (its options: path, event_max_activity, quant, schedule)"
    with pytest.raises(sf.Error) as e:
        snn.run(x, quant="int4")
    assert e.value.status == "argument error" and "int4" in e.value.message
    with pytest.raises(sf.Error) as e:
        snn.evaluate(DATA, limit=10, backend="loihi")
    assert e.value.message == "unknown backend 'loihi' (available: cpu, loihi2)"
    with pytest.raises(sf.Error) as e:
        snn.evaluate(DATA, limit=10, batch=-1)
    assert e.value.message == "option 'batch': a whole number from 0 to 65536, not '-1'"
    with pytest.raises(sf.Error) as e:
        snn.evaluate("/nonexistent-data", limit=10)
    assert e.value.status == "i/o error"
    with pytest.raises(sf.Error) as e:
        sf.optimize(sf.load(str(MODELS["mlp-onnx"])), 1.0, tmax=0)
    assert "tmax" in e.value.message


def test_closed_objects(converted):
    m = sf.load(str(MODELS["mlp-onnx"]))
    m.close()
    with pytest.raises(sf.Error, match="closed"):
        m.run(np.zeros((1, 1, 28, 28), np.float32))
    with sf.load(str(converted["mlp"][0])) as snn:
        assert snn.timesteps == 8
    with pytest.raises(sf.Error, match="closed"):
        snn.summary()


def test_message_is_per_thread():
    """The message is read on the thread that failed: another thread's later error does not leak in."""
    import threading
    msgs = {}

    def fail(name):
        try:
            sf.load(f"/nonexistent/{name}.onnx")
        except sf.Error as e:
            msgs[name] = e.message

    ts = [threading.Thread(target=fail, args=(f"t{i}",)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert msgs == {f"t{i}": f"/nonexistent/t{i}.onnx: no such file or directory" for i in range(8)}


def test_library_not_found(tmp_path):
    """No library where SPIKEFORMER_LIB points: spikeformer.Error saying where it looked and what to do."""
    env = dict(os.environ, SPIKEFORMER_LIB=str(tmp_path / "libspikeformer.so"), PYTHONPATH=str(ROOT / "python"))
    code = ("import spikeformer as sf\ntry:\n    sf.version()\nexcept sf.Error as e:\n    print(e.status)\n    print(e.message)\n")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("i/o error\nlibspikeformer could not be loaded; tried:\n  SPIKEFORMER_LIB: ")
    assert "(not there)" in r.stdout and "SPIKEFORMER_LIB=/path/to/libspikeformer.so" in r.stdout
