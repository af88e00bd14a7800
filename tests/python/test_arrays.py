"""numpy in without copies, library buffers out without copies, and who frees what."""
import gc
import os
import weakref

import numpy as np
import pytest

import spikeformer as sf
from spikeformer import _api
from conftest import DATA, MODELS


def test_input_zero_copy():
    a = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    kept, t = _api._input_tensor(a, float32=True)
    assert kept is a and t.data == a.ctypes.data and t.dtype == 0 and list(t.shape[:4]) == [3, 1, 28, 28] and not t.owns_data
    # the ANN path takes every dtype the library casts without converting it here
    for dt in (np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_):
        b = np.zeros((2, 3), dt)
        kept, t = _api._input_tensor(b, float32=False)
        assert kept is b and t.data == b.ctypes.data
    # otherwise converted once
    for b, dt in ((a[:, :, ::2], np.float32), (a.astype(np.float64), np.float32), (a.astype(">f4"), np.float32)):
        kept, t = _api._input_tensor(b, float32=True)
        assert kept is not b and kept.dtype == dt and kept.flags.c_contiguous and t.data == kept.ctypes.data
    kept, t = _api._input_tensor(np.zeros(4, np.float16), float32=False)
    assert kept.dtype == np.float64
    kept, t = _api._input_tensor(np.zeros(4, np.uint32), float32=False)
    assert kept.dtype == np.int64


def test_output_owns_library_buffer(sample):
    m = sf.load(str(MODELS["mlp-onnx"]))
    x, logits = sample["mlp"]
    y = m.run(x)
    assert not y.flags.owndata and isinstance(y.base, _api._CArray) and y.flags.writeable and y.flags.c_contiguous
    owner = weakref.ref(y.base)
    view = y[1:, 2:5]
    expect = np.array(view)
    del y
    gc.collect()
    assert owner() is not None                      # the view keeps the library buffer
    for _ in range(20):
        m.run(x)                                      # reuse freed memory if the buffer had been freed
    assert np.array_equal(view, expect)
    del view
    assert owner() is None                           # last view gone: sf_free ran (weakref.finalize on the owner)


def test_snn_output_owns_library_buffer(converted, sample):
    snn = sf.load(str(converted["mlp"][0]))
    y = snn.run(sample["mlp"][0], timesteps=3)
    assert y.dtype == np.float32 and y.shape == (4, 10) and isinstance(y.base, _api._CArray)
    # float64 and non-contiguous inputs are converted once and give the same output
    x64 = sample["mlp"][0].astype(np.float64)
    assert np.array_equal(snn.run(x64, timesteps=3), y)
    wide = np.zeros((4, 1, 28, 56), np.float32)
    wide[..., ::2] = sample["mlp"][0]
    assert np.array_equal(snn.run(wide[..., ::2], timesteps=3), y)


def test_graph_outlives_model_while_borrowed(tmp_path, sample):
    """A converted model borrows its source graph: closing the Model does not free it under the SNN."""
    m = sf.load(str(MODELS["mlp-onnx"]))
    graph = weakref.ref(m._hd)
    snn = sf.convert(m, DATA, timesteps=4, calib_samples=64)
    m.close()
    del m
    gc.collect()
    assert graph() is not None
    y = snn.run(sample["mlp"][0])
    snn.save(str(tmp_path / "m.sfm"))            # reads the source model through the graph
    assert np.array_equal(sf.load(str(tmp_path / "m.sfm")).run(sample["mlp"][0]), y)
    snn.close()
    gc.collect()
    assert graph() is None


def test_dataset(converted):
    ds = sf.load_dataset(DATA, "test", limit=300)
    assert len(ds) == 300 and ds.shape == (1, 28, 28) and ds.n_classes == 10 and "t10k" in ds.source
    x, y = ds.x, ds.labels
    assert x.dtype == np.float32 and x.shape == (300, 1, 28, 28) and 0 <= x.min() and x.max() <= 1 and y.dtype == np.int32
    assert not x.flags.owndata                        # a view of the library's memory
    snn = sf.load(str(converted["mlp"][0]))
    from_dir = snn.evaluate(DATA, limit=300)
    # a Dataset object, its first 200, and the same arrays wrapped from numpy give the same numbers
    assert snn.evaluate(ds)["snn_accuracy_by_t"] == from_dir["snn_accuracy_by_t"]
    assert snn.evaluate(ds, limit=200)["snn_accuracy_by_t"] == snn.evaluate(DATA, limit=200)["snn_accuracy_by_t"]
    arr = sf.Dataset.from_arrays(x.copy(), y.astype(np.int64))
    assert arr.n_classes == 10
    assert snn.evaluate(arr)["snn_accuracy_by_t"] == from_dir["snn_accuracy_by_t"]
    ann = sf.load(str(MODELS["mlp-onnx"]))
    assert ann.evaluate(arr)["accuracy"] == ann.evaluate(DATA, limit=300)["accuracy"]
    # closing the dataset leaves the views valid until they go
    before = np.array(x[:2])
    ds.close()
    gc.collect()
    assert np.array_equal(x[:2], before)
    with pytest.raises(sf.Error, match="closed"):
        len(ds)


def test_calib_dataset(converted, work):
    """convert(calib=Dataset) reads the same first calib_samples images as convert(calib=DIR)."""
    m = sf.load(str(MODELS["mlp-onnx"]))
    train = sf.load_dataset(DATA, "train", limit=1000)
    a = sf.convert(m, train, timesteps=8, calib_samples=300)
    b = sf.convert(m, DATA, timesteps=8, calib_samples=300)
    assert a.thresholds() == b.thresholds()


def test_timesteps_property(converted, tmp_path):
    snn = sf.load(str(converted["mlp"][0]))
    snn.timesteps = 3
    assert snn.timesteps == 3 and len(snn.evaluate(DATA, limit=50)["snn_accuracy_by_t"]) == 3
    with pytest.raises(ValueError):
        snn.timesteps = 0
    assert "if" in repr(sf.convert(sf.load(str(MODELS["mlp-onnx"])), DATA, neuron="if", calib_samples=32)) and os.path.exists(DATA)
