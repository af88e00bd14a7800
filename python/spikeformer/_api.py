"""The Python API over libspikeformer: models, converted models, datasets and the library-wide calls.

Every method here calls the same library functions as the command the CLI runs for it
(src/tools/cmd_*.c), in the same order and with the same defaults, so the dicts it returns are the
documents ``spikeformer <command> --json`` writes and the arrays are the ``.npy`` files ``run``
writes, bit for bit.
"""
from __future__ import annotations

import atexit
import ctypes
import json
import os
import sys
import tempfile
import time
import weakref
from ctypes import POINTER, byref, c_char_p, c_float, c_int, c_void_p, pointer
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._lib import Error, lib, opaque, take_string

PathLike = Union[str, "os.PathLike[str]"]
Progress = Union[bool, Callable[[str, int, int], None], None]

# sf_dtype (tensor.h) <-> numpy
_NP_OF_SF = {0: np.dtype(np.float32), 1: np.dtype(np.float64), 2: np.dtype(np.int8), 3: np.dtype(np.int16), 4: np.dtype(np.int32),
             5: np.dtype(np.int64), 6: np.dtype(np.uint8), 7: np.dtype(np.bool_)}
_SF_OF_NP = {v: k for k, v in _NP_OF_SF.items()}

# ---------------------------------------------------------------------------------------------
# small helpers


def _b(s: Optional[PathLike]) -> Optional[bytes]:
    """A str / path as the C string the library takes (None stays NULL)."""
    if s is None:
        return None
    return os.fsencode(s)


def _text(v: Any) -> str:
    """An option value as the text the library's key/value setters parse (booleans as true/false)."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (os.PathLike,)):
        return os.fspath(v)
    return str(v)


def _s(p: Optional[bytes]) -> str:
    return p.decode("utf-8", "replace") if p else ""


def _check_limit(limit: Optional[int], what: str = "limit") -> int:
    if limit is None:
        return 0
    if isinstance(limit, bool) or int(limit) != limit or limit < 1:
        raise ValueError(f"{what} must be a whole number >= 1 or None, not {limit!r}")
    return int(limit)


def _check_writable(*paths: Optional[PathLike]) -> None:
    """Fail before long work when an output cannot be written (sf_check_writable, as the CLI does)."""
    arr = (c_char_p * len(paths))(*[_b(p) for p in paths])
    lib().sf_check_writable(arr, len(paths))


_threads = 0  # the thread count calls run with; 0 = all cores, the CLI's --threads default


def _use_threads() -> None:
    """Apply the package's thread count on the calling thread before a call that runs a model, as the
    CLI applies --threads at its start. OpenMP keeps the count per thread, and other libraries in the
    process (torch sets its own at import) change it; doing it per call keeps the results those of the
    CLI with the same --threads."""
    lib().sf_threads_set(_threads)


class _Handle:
    """Owns one C object and frees it when the last Python reference goes (CPython: at once).

    ``deps`` are objects the C object borrows (a converted model borrows its source graph; a model
    imported from PyTorch borrows its temporary folder): they stay alive as long as this handle.
    """

    __slots__ = ("ptr", "deps", "_fin", "__weakref__")

    def __init__(self, ptr: int, free: Callable[[int], None], deps: Sequence[Any] = ()) -> None:
        if not ptr:
            raise Error("the library returned no object", _lib.SF_ERR_INTERNAL)
        self.ptr = ptr
        self.deps = tuple(deps)
        self._fin = weakref.finalize(self, free, ptr)


class _CArray:
    """Owner of library-allocated memory that numpy arrays look at (``__array_interface__``);
    frees it with sf_free (or keeps a parent alive) when the last array viewing it goes."""

    __slots__ = ("__array_interface__", "owner", "__weakref__")


def _wrap(ptr: int, shape: Tuple[int, ...], dtype: np.dtype, free: bool, owner: Any = None) -> np.ndarray:
    """A numpy array over `ptr` without a copy. free=True: the array owns the memory (sf_free when
    the array and every view of it are gone); else `owner` is kept alive as long as the array is."""
    o = _CArray()
    o.__array_interface__ = {"data": (ptr, False), "shape": shape, "typestr": dtype.str, "version": 3}
    o.owner = owner
    if free:
        weakref.finalize(o, lib().sf_free, ptr)
    return np.asarray(o)


def _take_tensor(t: _lib.sf_tensor) -> np.ndarray:
    """The data of a tensor the library allocated, as a numpy array, without a copy: the pointer is
    taken out of the sf_tensor (so sf_tensor_free / sf_infer_outputs_free leave it alone) and freed
    with sf_free when the array dies."""
    if t.dtype not in _NP_OF_SF:
        raise Error(f"output of unknown dtype {t.dtype}", _lib.SF_ERR_UNSUPPORTED)
    dtype = _NP_OF_SF[t.dtype]
    shape = tuple(int(t.shape[i]) for i in range(max(t.ndim, 0)))
    ptr, owns = t.data, t.owns_data
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if not ptr:
        return np.zeros(shape, dtype)
    if not owns:  # borrowed memory: copy it
        return np.array(_wrap(ptr, shape, dtype, free=False), copy=True)
    t.data = None
    t.owns_data = 0
    if n == 0:
        lib().sf_free(ptr)
        return np.zeros(shape, dtype)
    return _wrap(ptr, shape, dtype, free=True)


def _input_tensor(x: Any, float32: bool) -> Tuple[np.ndarray, _lib.sf_tensor]:
    """A numpy array as an sf_tensor over its buffer (no copy where it is C-contiguous, native-endian
    and of a dtype the library takes; else converted once). float32: the SNN runtime's input type.
    The array returned must be kept alive as long as the tensor is used."""
    a = np.asarray(x)
    if float32:
        want = np.dtype(np.float32)
    else:
        dt = a.dtype
        if dt.kind == "f":
            want = dt if dt.newbyteorder("=") in _SF_OF_NP else np.dtype(np.float64)
        elif dt.kind == "u" and dt.itemsize > 1:
            want = np.dtype(np.int64)
        elif dt.kind in "iub":
            want = dt
        else:
            raise TypeError(f"cannot pass an array of dtype {dt} to the model (numbers or booleans only)")
        want = want.newbyteorder("=")
    if not (a.flags.c_contiguous and a.dtype == want and a.dtype.isnative):
        a = np.ascontiguousarray(a, dtype=want)
    if a.ndim > _lib.SF_MAX_DIMS:
        raise ValueError(f"arrays of at most {_lib.SF_MAX_DIMS} dimensions, not {a.ndim}")
    t = _lib.sf_tensor()
    t.dtype = _SF_OF_NP[a.dtype]
    t.ndim = a.ndim
    for i, d in enumerate(a.shape):
        t.shape[i] = d
    t.data = a.ctypes.data
    t.owns_data = 0
    return a, t


class _Progress:
    """An sf_progress_fn for the duration of one call: a bar on stderr (progress=True) or the
    caller's function(what, done, total). The ctypes callback object lives as long as this."""

    def __init__(self, progress: Progress, on_error: Optional[Callable[[], None]] = None) -> None:
        self.user = progress if callable(progress) else None
        self.on_error = on_error
        self.enabled = bool(progress)
        self.fn = _lib.PROGRESS_FN(self._cb) if self.enabled else _lib.PROGRESS_FN()
        self.error: Optional[BaseException] = None
        self.drawn = False
        self.t0 = time.monotonic()
        self.last = 0.0

    def _cb(self, what: bytes, done: int, total: int, user: Any) -> None:
        try:
            if self.user is not None:
                self.user(_s(what), int(done), int(total))
                return
            now = time.monotonic()
            if done < total and now - self.last < 0.1:
                return
            self.last = now
            frac = done / total if total > 0 else 1.0
            width = 30
            fill = int(round(frac * width))
            sys.stderr.write(f"\r{_s(what)} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {now - self.t0:.1f}s")
            sys.stderr.flush()
            self.drawn = True
        except BaseException as e:  # an exception cannot cross the C frames: re-raised after the call
            if self.error is None:
                self.error = e
            if self.on_error is not None:
                self.on_error()

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
        if self.error is not None and exc[0] is None:
            raise self.error


class _BackendOptions:
    """sf_backend_options_new for a backend by name, keys set with sf_backend_options_set; freed on exit."""

    def __init__(self, backend: str, options: Mapping[str, Any]) -> None:
        L = lib()
        be = c_void_p()
        L.sf_backend_find(_b(backend), byref(be))
        self.backend = be
        self.ptr = POINTER(_lib.sf_backend_options)()
        L.sf_backend_options_new(be, byref(self.ptr))
        try:
            for k, v in options.items():
                if v is None:
                    continue
                L.sf_backend_options_set(self.ptr, be, k.encode(), _text(v).encode())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.ptr:
            lib().sf_backend_options_free(self.ptr)
            self.ptr = POINTER(_lib.sf_backend_options)()

    def __enter__(self) -> "_BackendOptions":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Keep:
    """Strings the library keeps pointers to (eval / optimize options): alive as long as this."""

    def __init__(self) -> None:
        self.items: List[bytes] = []

    def __call__(self, v: Any) -> bytes:
        b = _text(v).encode() if not isinstance(v, bytes) else v
        self.items.append(b)
        return b


# ---------------------------------------------------------------------------------------------
# datasets


class _DatasetMem:
    """The sf_dataset struct and what its memory belongs to: freed (sf_dataset_free) when the last
    of the Dataset and the arrays viewing its samples goes."""

    __slots__ = ("ds", "keep", "__weakref__")

    def __init__(self, ds: _lib.sf_dataset, owned: bool, keep: Any = None) -> None:
        self.ds = ds
        self.keep = keep
        if owned:
            weakref.finalize(self, _free_dataset, ds)


def _free_dataset(ds: _lib.sf_dataset) -> None:
    lib().sf_dataset_free(byref(ds))


class Dataset:
    """A labelled image set as the library holds it (float32 [N, C, H, W] = pixel / 255, int32 labels).

    Load one with :func:`load_dataset` (IDX or NPY folder, as ``--data`` takes) or wrap arrays with
    :meth:`Dataset.from_arrays`. Every call that takes ``data=`` / ``calib=`` accepts a Dataset, so a
    set read once serves many calls. ``x`` and ``labels`` are numpy views of the library's memory
    (no copy); the memory is freed when the Dataset is closed or garbage and no such view is left.
    """

    def __init__(self, _mem: _DatasetMem) -> None:
        self._m: Optional[_DatasetMem] = _mem

    def _mem(self) -> _DatasetMem:
        m = self._m
        if m is None:
            raise Error("the dataset is closed", _lib.SF_ERR_ARG)
        return m

    @property
    def _ds(self) -> _lib.sf_dataset:
        return self._mem().ds

    @classmethod
    def load(cls, path: Optional[PathLike] = None, split: str = "test", limit: Optional[int] = None) -> "Dataset":
        """sf_dataset_load(path, split, limit); path None = the CLI's default data folder."""
        sp = {"test": _lib.SF_SPLIT_TEST, "train": _lib.SF_SPLIT_TRAIN}.get(split)
        if sp is None:
            raise ValueError(f"split must be 'test' or 'train', not {split!r}")
        ds = _lib.sf_dataset()
        lib().sf_dataset_load(_b(path if path is not None else _lib.DEFAULT_DATA_DIR), sp, _check_limit(limit), byref(ds))
        return cls(_DatasetMem(ds, True))

    @classmethod
    def from_arrays(cls, x: Any, labels: Any) -> "Dataset":
        """A dataset over numpy arrays: x [N, C, H, W] or [N, H, W] (used without a copy when it is
        C-contiguous float32, else converted once; values are taken as they are, not divided by
        255) and labels [N] (whole numbers >= 0, converted to int32)."""
        xa = np.ascontiguousarray(x, dtype=np.float32)
        if xa.ndim == 3:
            xa = xa[:, None]
        if xa.ndim != 4:
            raise ValueError(f"x must be [N, C, H, W] or [N, H, W], not of shape {xa.shape}")
        la = np.ascontiguousarray(labels, dtype=np.int32)
        if la.shape != (xa.shape[0],):
            raise ValueError(f"labels must be [N] = [{xa.shape[0]}], not of shape {la.shape}")
        if la.size and la.min() < 0:
            raise ValueError("labels must be >= 0")
        src = b"numpy arrays"
        ds = _lib.sf_dataset(n=xa.shape[0], c=xa.shape[1], h=xa.shape[2], w=xa.shape[3],
                             x=xa.ctypes.data_as(POINTER(c_float)), labels=la.ctypes.data_as(POINTER(ctypes.c_int32)),
                             n_classes=int(la.max()) + 1 if la.size else 0, source=src)
        return cls(_DatasetMem(ds, False, (xa, la, src)))

    def _limited(self, limit: int) -> "Dataset":
        """The first `limit` samples (a view of the same memory, which it keeps alive)."""
        m = self._mem()
        if not limit or limit >= m.ds.n:
            return self
        ds = _lib.sf_dataset()
        ctypes.pointer(ds)[0] = m.ds
        ds.n = limit
        return Dataset(_DatasetMem(ds, False, m))

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self._ds.n)

    def __len__(self) -> int:
        return self.n

    @property
    def shape(self) -> Tuple[int, int, int]:
        """Shape of one sample (C, H, W)."""
        ds = self._ds
        return int(ds.c), int(ds.h), int(ds.w)

    @property
    def n_classes(self) -> int:
        """Largest label + 1."""
        return int(self._ds.n_classes)

    @property
    def source(self) -> str:
        """The files the samples came from."""
        return _s(self._ds.source)

    @property
    def x(self) -> np.ndarray:
        """Samples, float32 [N, C, H, W]: a view of the library's memory (no copy)."""
        m = self._mem()
        shape = (self.n,) + self.shape
        if self.n == 0:
            return np.zeros(shape, np.float32)
        return _wrap(ctypes.cast(m.ds.x, c_void_p).value, shape, np.dtype(np.float32), free=False, owner=m)

    @property
    def labels(self) -> np.ndarray:
        """Labels, int32 [N]: a view of the library's memory (no copy)."""
        m = self._mem()
        if self.n == 0:
            return np.zeros((0,), np.int32)
        return _wrap(ctypes.cast(m.ds.labels, c_void_p).value, (self.n,), np.dtype(np.int32), free=False, owner=m)

    def close(self) -> None:
        """Release the samples (freed now, or when the last array viewing them goes)."""
        self._m = None

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._m is None:
            return "<spikeformer.Dataset (closed)>"
        return f"<spikeformer.Dataset {self.n} samples of {self.shape}, {self.n_classes} classes from {self.source!r}>"


def load_dataset(path: Optional[PathLike] = None, split: str = "test", limit: Optional[int] = None) -> Dataset:
    """Read a labelled image set: an IDX folder (MNIST layout, .gz or raw) or an NPY folder
    (x_train.npy, y_train.npy, x_test.npy, y_test.npy), as ``--data`` / ``--calib`` take it.

    Args:
        path: the folder (default: /usr/share/datasets/fashion-mnist, as the CLI).
        split: "test" or "train".
        limit: only the first `limit` samples.
    """
    return Dataset.load(path, split, limit)


def _dataset(data: Union[None, PathLike, Dataset], split: int, limit: int) -> Dataset:
    if isinstance(data, Dataset):
        return data._limited(limit)
    return Dataset.load(data, "train" if split == _lib.SF_SPLIT_TRAIN else "test", limit or None)


# ---------------------------------------------------------------------------------------------
# ANN models


class Model:
    """A pre-trained model (ONNX file or Hugging Face directory) imported into SpikeFormer's IR.

    Made by :func:`load` or :func:`from_torch`. The C graph is freed by :meth:`close`, by leaving a
    ``with`` block, or when the object is garbage; a converted :class:`SNNModel` borrows its source
    graph, so the graph lives on until that model is gone too.
    """

    def __init__(self, _handle: _Handle, name: str) -> None:
        self._hd: Optional[_Handle] = _handle
        self.name = name
        """How the model is called in results (the path as given to :func:`load`)."""

    def _h(self) -> _Handle:
        h = self._hd
        if h is None:
            raise Error(f"{self.name}: the model is closed", _lib.SF_ERR_ARG)
        return h

    def close(self) -> None:
        """Release the C graph (freed now, or when the last converted model that borrows it goes)."""
        self._hd = None

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._hd is None else f"{self.num_nodes} nodes"
        return f"<spikeformer.Model {self.name!r} ({state})>"

    @property
    def source(self) -> str:
        """The file or directory the model came from (sf_graph_source)."""
        return _s(lib().sf_graph_source(self._h().ptr))

    @property
    def num_nodes(self) -> int:
        """Nodes as imported."""
        return int(lib().sf_graph_num_nodes(self._h().ptr))

    @property
    def inputs(self) -> List[Dict[str, Any]]:
        """The graph inputs: name, dtype (numpy) and shape (-1 for a free dimension)."""
        L, h = lib(), self._h()
        out = []
        for i in range(L.sf_graph_num_inputs(h.ptr)):
            d = L.sf_graph_input_desc(h.ptr, i)
            out.append({"name": _s(L.sf_graph_input_name(h.ptr, i)), "dtype": _NP_OF_SF.get(d.dtype),
                        "shape": tuple(int(d.shape[k]) for k in range(max(d.ndim, 0)))})
        return out

    @property
    def outputs(self) -> List[str]:
        """The graph outputs' names, in order (logits first)."""
        L, h = lib(), self._h()
        return [_s(L.sf_graph_output_name(h.ptr, i)) for i in range(L.sf_graph_num_outputs(h.ptr))]

    def analyze(self, batch: int = 1, seq_len: int = 16, fuse: bool = True, full: bool = False) -> Any:
        """Per-node report: op, output shape, parameters, MACs, and how the node converts to spikes
        (sf_analyze_model + sf_model_report_json, as ``spikeformer analyze --json``). The GIL is
        released while the library works.

        Args:
            batch: batch size the shapes are for.
            seq_len: length of other free dimensions (token sequences).
            fuse: fuse LayerNorm / GELU / attention first (``--no-fuse`` is fuse=False).
            full: return the whole document (totals, counts by class) instead of its "layers".

        Returns:
            A list with one dict per node (the "layers" of ``analyze --json``), or the whole dict.
        """
        L, h = lib(), self._h()
        _use_threads()
        o = _lib.sf_analyze_options(int(batch), int(seq_len), 1 if fuse else 0)
        rep = opaque("sf_model_report")
        try:
            L.sf_analyze_model(h.ptr, byref(o), rep)
            doc = json.loads(take_string(L.sf_model_report_json(rep, _b(self.name))))
        finally:
            L.sf_model_report_free(rep)
        return doc if full else doc["layers"]

    def run(self, x: Any, all_outputs: Optional[bool] = None) -> Any:
        """One inference with the float executor (sf_infer, as ``spikeformer run``).

        The GIL is released while the library runs, so several threads can run at once.

        Args:
            x: one array for the first input (any dtype the library casts: float32/64, int8-64,
               uint8, bool; others are converted to float64 / int64), or a dict name -> array for
               inputs by name (a missing attention_mask is all ones). C-contiguous arrays of those
               dtypes are passed without a copy.
            all_outputs: return every output as a dict name -> array (default: True for a dict
               input, else only the first output).

        Returns:
            numpy arrays that own the library's output buffers (no copy; freed when they go).
        """
        L, h = lib(), self._h()
        _use_threads()
        if isinstance(x, Mapping):
            names: List[Optional[str]] = [str(k) for k in x.keys()]
            values = list(x.values())
            if all_outputs is None:
                all_outputs = True
        else:
            names, values = [None], [x]
        n = len(values)
        keep = []
        tensors = (_lib.sf_tensor * max(n, 1))()
        for i, v in enumerate(values):
            a, t = _input_tensor(v, float32=False)
            keep.append(a)
            tensors[i] = t
        cnames = (c_char_p * max(n, 1))(*[nm.encode() if nm is not None else None for nm in names])
        outs = POINTER(_lib.sf_tensor)()
        n_out = c_int(0)
        L.sf_infer(h.ptr, n, cnames, tensors, None, byref(outs), byref(n_out))
        try:
            arrays = [_take_tensor(outs[i]) for i in range(n_out.value)]
        finally:
            L.sf_infer_outputs_free(outs, n_out.value)
        del keep
        if all_outputs:
            return dict(zip(self.outputs, arrays))
        return arrays[0] if arrays else None

    def evaluate(self, data: Union[None, PathLike, Dataset] = None, limit: Optional[int] = None, split: str = "test",
                 batch: Optional[int] = None, progress: Progress = False, predictions: bool = False) -> Dict[str, Any]:
        """Accuracy of the first output on a labelled set (sf_eval_ann, as ``spikeformer eval MODEL``).
        The GIL is released while the library works.

        Args:
            data: data folder (IDX or NPY; default the CLI's) or a :class:`Dataset`.
            limit: only the first `limit` samples.
            split: "test" (default) or "train".
            batch: samples per inference (default 256).
            progress: True for a bar on stderr, or a function(what, done, total).
            predictions: add "predictions", the argmax of every sample (int64 array).

        Returns:
            The document of ``eval --json``: accuracy, samples, correct, model, data, seconds, threads.
        """
        L, h = lib(), self._h()
        _use_threads()
        sp = {"test": _lib.SF_SPLIT_TEST, "train": _lib.SF_SPLIT_TRAIN}.get(split)
        if sp is None:
            raise ValueError(f"split must be 'test' or 'train', not {split!r}")
        o = _lib.sf_ann_eval_options()
        L.sf_ann_eval_options_default(byref(o))
        if batch:
            o.batch = int(batch)
        o.keep_predictions = 1 if predictions else 0
        ds = _dataset(data, sp, _check_limit(limit))
        r = POINTER(_lib.sf_ann_eval_result)()
        with _Progress(progress) as pb:
            o.progress = pb.fn
            try:
                L.sf_eval_ann(h.ptr, _b(self.name), byref(ds._ds), byref(o), byref(r))
                doc = json.loads(take_string(L.sf_ann_eval_json(r)))
                if predictions:
                    n = int(r.contents.samples)
                    p = r.contents.predictions
                    doc["predictions"] = np.ctypeslib.as_array(p, (n,)).copy() if n and p else np.zeros((0,), np.int64)
            finally:
                L.sf_ann_eval_result_free(r)
        return doc

    def convert(self, calib: Union[None, PathLike, Dataset] = None, **options: Any) -> "SNNModel":
        """Same as :func:`convert` (self, calib, **options)."""
        return convert(self, calib, **options)

    def optimize(self, max_drop: float, **kwargs: Any) -> Tuple["SNNModel", Dict[str, Any]]:
        """Same as :func:`optimize` (self, max_drop, **kwargs)."""
        return optimize(self, max_drop, **kwargs)


# ---------------------------------------------------------------------------------------------
# converted (spiking) models

# names of the enums in convert.h / config.h, in their order
_POLICIES = ("max", "percentile", "mse")
_NEURONS = ("if", "lif", "burst")
_ENCODINGS = ("rate", "direct", "latency")
_BURST_CODES = ("unary", "binary")
_CODINGS = ("rate", "delta")


def _name(names: Sequence[str], i: int) -> str:
    return names[i] if 0 <= i < len(names) else str(i)


class SNNModel:
    """A converted spiking network (from :func:`convert`, :func:`optimize`, or :func:`load` of a .sfm).

    The C model is freed by :meth:`close`, by leaving a ``with`` block, or when the object is
    garbage. Calls that run the network release the GIL while the library works.
    """

    def __init__(self, _handle: _Handle, name: Optional[str], path: Optional[str], seconds: Optional[float] = None) -> None:
        self._hd: Optional[_Handle] = _handle
        self._name = name          # how results call it (None: the source model's path, as the library does)
        self.path = path
        """The .sfm file it was loaded from or last saved to (None for a model only in memory)."""
        self._seconds = seconds
        self._src_name: Optional[str] = None  # how the conversion report calls the source (the ANN's name)

    def _h(self) -> _Handle:
        h = self._hd
        if h is None:
            raise Error(f"{self.path or 'converted model'}: the model is closed", _lib.SF_ERR_ARG)
        return h

    def close(self) -> None:
        """Release the C model now (and the source graph it borrows, if nothing else holds it)."""
        self._hd = None

    def __enter__(self) -> "SNNModel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._hd is None:
            return "<spikeformer.SNNModel (closed)>"
        o = self.options
        return (f"<spikeformer.SNNModel of {self.source!r}: {o['neuron']} neurons, T={o['timesteps']}, "
                f"{o['coding']} coding{', ' + repr(self.path) if self.path else ''}>")

    # -- what it is

    @property
    def source(self) -> str:
        """Path of the source ANN."""
        L, h = lib(), self._h()
        return _s(L.sf_graph_source(L.sf_snn_model_source(h.ptr)))

    @property
    def source_sha256(self) -> str:
        """SHA-256 of the source model's bytes (hex)."""
        return _s(lib().sf_snn_model_source_sha256(self._h().ptr))

    @property
    def timesteps(self) -> int:
        """The T the model runs at by default (its SpikingConfig); settable."""
        return int(lib().sf_snn_model_options(self._h().ptr).contents.snn.timesteps)

    @timesteps.setter
    def timesteps(self, T: int) -> None:
        if int(T) < 1:
            raise ValueError("timesteps must be >= 1")
        lib().sf_snn_model_set_timesteps(self._h().ptr, int(T))

    @property
    def classes(self) -> int:
        """Classes the first output scores (0 if unknown)."""
        return int(lib().sf_snn_model_classes(self._h().ptr))

    @property
    def options(self) -> Dict[str, Any]:
        """How it was converted: the convert options (policy, percentile, per_channel, ...) and its
        SpikingConfig (timesteps, neuron, burst levels, coding, hardware constraints)."""
        o = lib().sf_snn_model_options(self._h().ptr).contents
        c = o.snn
        return {"policy": _name(_POLICIES, o.policy), "percentile": o.percentile, "per_channel": bool(o.per_channel), "calib_samples": o.calib_samples,
                "calib_batch": o.calib_batch, "relu_ec": bool(o.relu_ec), "native_gelu": bool(o.native_gelu), "timesteps": c.timesteps,
                "neuron": _name(_NEURONS, c.neuron_model), "leak": c.leak, "burst_levels": c.burst_levels,
                "burst_code": _name(_BURST_CODES, c.burst_code), "encoding": _name(_ENCODINGS, c.spike_encoding),
                "coding": _name(_CODINGS, c.coding), "seed": c.seed,
                "max_fan_in": c.hardware_constraints.max_fan_in, "max_neurons_per_core": c.hardware_constraints.max_neurons_per_core}

    def thresholds(self) -> List[Dict[str, Any]]:
        """Every neuron site: name, channels, signed, min / mean / max threshold."""
        L, h = lib(), self._h()
        out = []
        for i in range(L.sf_snn_model_num_sites(h.ptr)):
            name, ch, sg = c_char_p(), c_int(), c_int()
            lo, mean, hi = c_float(), c_float(), c_float()
            L.sf_snn_model_site(h.ptr, i, byref(name), byref(ch), byref(lo), byref(mean), byref(hi), byref(sg))
            out.append({"site": _s(name.value), "signed": bool(sg.value), "channels": ch.value, "theta_min": lo.value,
                        "theta_mean": mean.value, "theta_max": hi.value})
        return out

    def summary(self) -> Dict[str, Any]:
        """The conversion report, as ``spikeformer convert --json`` writes it (sf_snn_model_json):
        neuron, policy, T, coding, nodes by mode, thresholds per site."""
        L, h = lib(), self._h()
        secs = self._seconds if self._seconds is not None else L.sf_snn_model_calib_seconds(h.ptr)
        name = self._source_name()
        return json.loads(take_string(L.sf_snn_model_json(h.ptr, _b(name), _b(self.path), float(secs))))

    def _source_name(self) -> str:
        return self._src_name if self._src_name else self.source

    def save(self, path: PathLike) -> None:
        """Write the model as a checksummed .sfm file (atomically; sf_snn_model_save)."""
        L, h = lib(), self._h()
        _check_writable(path)
        L.sf_snn_model_save(h.ptr, _b(path))
        self.path = os.fspath(path)
        if self._name is None:
            self._name = self.path

    def export(self, path: PathLike, format: str = "nir", dialect: str = "generic", dt: Optional[float] = None, partial: bool = False,
               until: Optional[str] = None, **backend_options: Any) -> Dict[str, Any]:
        """Write the spiking network in an exchange format (``spikeformer export``).

        ``format="nir"`` (sf_export_nir): NIR 1.0 (HDF5) in the dialect of the reader it is for
        (generic, snntorch, norse, spikingjelly, lava, spinnaker2; docs/nir.md). ``partial``: the
        chain up to the first node NIR cannot express; ``until``: up to and including a node.

        ``format="netx"`` (sf_export_netx): Lava-DL's HDF5 network for Loihi 2, lowered exactly as
        the loihi2 backend runs it with the same ``**backend_options`` (docs/loihi2.md).

        Written whole or not at all.

        Returns:
            the export report (the dict of ``export --json``): for nir the nodes written, folding,
            warnings; for netx the format and the file's size.
        """
        if format not in ("nir", "netx"):
            raise ValueError(f"format must be 'nir' or 'netx', not {format!r}")
        L, h = lib(), self._h()
        _check_writable(path)
        if format == "netx":
            with _BackendOptions("loihi2", backend_options) as bo:
                L.sf_export_netx(h.ptr, bo.ptr.contents.target, _b(path))
            return {"format": "netx", "output_bytes": os.path.getsize(path)}
        if backend_options:
            raise ValueError(f"backend options ({', '.join(backend_options)}) apply to format='netx'")
        o = _lib.opaque("sf_nir_options")
        L.sf_nir_options_default(o)
        keep = [_text(dialect).encode(), (until or "").encode()]
        L.sf_nir_options_set(o, b"dialect", keep[0])
        if dt is not None:
            L.sf_nir_options_set(o, b"dt", repr(float(dt)).encode())
        L.sf_nir_options_set(o, b"partial", b"true" if partial else b"false")
        L.sf_nir_options_set(o, b"until", keep[1])
        rep = c_void_p()
        L.sf_export_nir(h.ptr, _b(path), o, byref(rep))
        return json.loads(_lib.take_string(rep.value))

    def validate(self, max_fan_in: Optional[int] = None, max_neurons_per_core: Optional[int] = None) -> Dict[str, Any]:
        """ArchitectureValidator (sf_snn_model_validate, as ``spikeformer validate``): every node
        converted, shapes consistent, thresholds finite and positive, no NaN/Inf weight, fan-in and
        neurons per core within the limits (default: those stored in the model's SpikingConfig).

        Returns:
            {"valid": bool, "errors": [one line per problem], "nodes_checked": int, "max_fan_in": int}
        """
        L, h = lib(), self._h()
        stored = L.sf_snn_model_options(h.ptr).contents.snn.hardware_constraints
        hw = _lib.sf_hardware_constraints(stored.max_fan_in, stored.max_neurons_per_core)
        if max_fan_in is not None:
            hw.max_fan_in = int(max_fan_in)
        if max_neurons_per_core is not None:
            hw.max_neurons_per_core = int(max_neurons_per_core)
        val = _lib.sf_validation()
        st = L.sf_snn_model_validate(h.ptr, byref(hw), byref(val))
        try:
            if st and not (st == _lib.SF_ERR_VALUE and val.n_errors > 0):
                raise _lib.last_error(st)
            return {"valid": st == 0, "errors": [_s(val.errors[i]) for i in range(val.n_errors)], "nodes_checked": val.n_checked_nodes,
                    "max_fan_in": val.max_fan_in}
        finally:
            L.sf_validation_free(byref(val))

    # -- running it

    def run(self, x: Any, timesteps: Optional[int] = None, backend: str = "cpu", **backend_options: Any) -> np.ndarray:
        """The decoded first output after T steps (sf_infer_snn, as ``spikeformer run OUT.sfm``):
        under rate coding the accumulated membrane potential / T, under delta coding its sum.

        Args:
            x: [batch, the model's input shape]; C-contiguous float32 is passed without a copy,
               anything else is converted once to float32.
            timesteps: T (default: the model's).
            backend: the backend to run on ("cpu").
            **backend_options: the backend's options by name (sf_backend_options_set): encoding,
               decoder, raster_neurons, and for "cpu" path, quant, schedule, event_max_activity.

        Returns:
            float32 array [batch, ...] that owns the library's buffer (no copy). The GIL is released
            during the run.
        """
        L, h = lib(), self._h()
        _use_threads()
        a, t = _input_tensor(x, float32=True)
        T = 0 if timesteps is None else int(timesteps)
        if timesteps is not None and T < 1:
            raise ValueError("timesteps must be >= 1")
        with _BackendOptions(backend, backend_options) as bo:
            out = _lib.sf_tensor()
            L.sf_infer_snn(h.ptr, _b(backend), ctypes.cast(bo.ptr, c_void_p), byref(t), T, byref(out))
            try:
                return _take_tensor(out)
            finally:
                L.sf_tensor_free(byref(out))  # a no-op once the data was taken

    def run_frames(self, clips: Any, backend: str = "cpu", **backend_options: Any) -> np.ndarray:
        """Run a clip per sample (sf_infer_snn_frames, as ``run OUT.sfm --frames CLIPS.npy``): clips
        [batch, T, the input's shape], frame t is the input current at step t; returns the decoded
        output after the clips' T frames (float32, owning the library's buffer). GIL released."""
        L, h = lib(), self._h()
        _use_threads()
        a, t = _input_tensor(clips, float32=True)
        with _BackendOptions(backend, backend_options) as bo:
            out = _lib.sf_tensor()
            L.sf_infer_snn_frames(h.ptr, _b(backend), ctypes.cast(bo.ptr, c_void_p), byref(t), byref(out))
            try:
                return _take_tensor(out)
            finally:
                L.sf_tensor_free(byref(out))  # a no-op once the data was taken

    def compile(self, backend: str = "loihi2", data: Union[None, PathLike, Dataset] = None, calibrate: int = 100, timesteps: Optional[int] = None,
                **backend_options: Any) -> Dict[str, Any]:
        """Compile for a backend and report its mapping (sf_backend_compile_report, as
        ``spikeformer compile OUT.sfm --json``): for loihi2 the layers as lowered, cores and chips,
        utilisation per core, and, after a calibration run on ``calibrate`` training images (0: none),
        the spikes, messages inside and between cores and chips, energy and time per inference.

        Args:
            backend: "loihi2" (default) or another backend (a short report).
            data: labelled data for the calibration run (default: Fashion-MNIST), or a Dataset.
            calibrate: images of the training split to run (default 100).
            timesteps: steps of the calibration run (default: the model's T).
            **backend_options: the backend's options by name, e.g. vth_scale=1.5, exclude_cores="0-3".
        """
        L, h = lib(), self._h()
        _use_threads()
        n = _check_limit(calibrate, "calibrate") if calibrate else 0
        with _BackendOptions(backend, backend_options) as bo:
            ds = _dataset(data, _lib.SF_SPLIT_TRAIN, n) if n else None
            js = c_void_p()
            L.sf_backend_compile_report(bo.backend, h.ptr, bo.ptr, byref(ds._ds) if ds is not None else None, int(timesteps or 0), byref(js), None)
            return json.loads(take_string(js.value))

    def _eval(self, profile: bool, data: Union[None, PathLike, Dataset], timesteps: Optional[int], limit: Optional[int],
              batch: Optional[int], ann: bool, backend: str, energy_dir: Optional[PathLike], progress: Progress, mlflow: Optional[PathLike],
              backend_options: Mapping[str, Any]) -> Dict[str, Any]:
        L, h = lib(), self._h()
        _use_threads()
        o = _lib.sf_eval_options()
        L.sf_eval_options_default(byref(o))
        keep = _Keep()  # energy_dir and backend are kept as pointers by the options

        def put(key: str, value: Any) -> None:
            L.sf_eval_options_set(byref(o), key.encode(), keep(value))

        if timesteps is not None:
            put("timesteps", timesteps)
        if batch is not None:
            put("batch", batch)
        put("ann", bool(ann))
        put("profile", bool(profile))
        if energy_dir is not None:
            put("energy_dir", os.fspath(energy_dir))
        put("backend", backend)
        lim = _check_limit(limit)
        with _BackendOptions(backend, backend_options) as bo, _Progress(progress) as pb:
            o.backend_options = bo.ptr.contents  # a copy of the struct; its target stays owned by bo
            o.progress = pb.fn
            ds = _dataset(data, _lib.SF_SPLIT_TEST, lim)
            r = c_void_p()
            L.sf_eval_snn(h.ptr, _b(self._name), byref(ds._ds), byref(o), byref(r))
            try:
                doc = json.loads(take_string(L.sf_eval_json(r)))
                if mlflow is not None:
                    L.sf_eval_log_mlflow(r, _b(mlflow), b"profile" if profile else b"eval")
            finally:
                L.sf_eval_result_free(r)
        del keep
        return doc

    def evaluate(self, data: Union[None, PathLike, Dataset] = None, timesteps: Optional[int] = None, limit: Optional[int] = None,
                 batch: Optional[int] = None, ann: bool = True, backend: str = "cpu", energy_dir: Optional[PathLike] = None,
                 progress: Progress = False, mlflow: Optional[PathLike] = None, **backend_options: Any) -> Dict[str, Any]:
        """Accuracy after every timestep 1..T beside the ANN, per-layer firing rates and operations,
        spike purity (sf_eval_snn + sf_eval_json, as ``spikeformer eval OUT.sfm --json``).

        Args:
            data: test data folder (default the CLI's) or a :class:`Dataset`.
            timesteps: T (default: the T the model was converted for).
            limit: only the first `limit` samples.
            batch: samples run together (default: about 256, the data split into equal batches).
            ann: run the source ANN on the same batches (False = ``--no-ann``).
            backend: the backend ("cpu").
            energy_dir: energy-model folder (profile).
            progress: True for a bar on stderr, or a function(what, done, total).
            mlflow: log the run to this MLflow file store.
            **backend_options: encoding, decoder, raster_neurons, path, quant, schedule, ...

        Returns:
            The ``eval --json`` document: ann_accuracy, snn_accuracy_by_t, layers, spike_purity, ...
            The GIL is released while the library runs, so threads can evaluate at once.
        """
        return self._eval(False, data, timesteps, limit, batch, ann, backend, energy_dir, progress, mlflow, backend_options)

    def profile(self, data: Union[None, PathLike, Dataset] = None, timesteps: Optional[int] = None, limit: Optional[int] = None,
                batch: Optional[int] = None, ann: bool = True, backend: str = "cpu", energy_dir: Optional[PathLike] = None,
                progress: Progress = False, mlflow: Optional[PathLike] = None, **backend_options: Any) -> Dict[str, Any]:
        """:meth:`evaluate` with the energy per layer, per model and at every T under each energy
        model, beside the ANN's (as ``spikeformer profile --json``). The GIL is released while the
        library works."""
        return self._eval(True, data, timesteps, limit, batch, ann, backend, energy_dir, progress, mlflow, backend_options)

    def report(self, path: PathLike, data: Union[None, PathLike, Dataset] = None, limit: Optional[int] = 1000,
               timesteps: Optional[int] = None, optimize_json: Union[None, PathLike, Mapping[str, Any]] = None,
               progress: Progress = False) -> Dict[str, Any]:
        """Write the self-contained HTML dashboard (sf_report_evaluate + sf_report_html, as
        ``spikeformer report OUT.sfm -o FILE.html``). The GIL is released while the library works.

        Args:
            path: the .html file.
            data: test data (default the CLI's) or a :class:`Dataset`; limit: images (default 1000).
            timesteps: T (default the model's).
            optimize_json: the Pareto front: a file ``optimize --json`` wrote, or the dict
               :func:`optimize` returned.

        Returns:
            The evaluation the dashboard shows (``profile --json`` document).
        """
        L, h = lib(), self._h()
        _use_threads()
        _check_writable(path)
        ds = _dataset(data, _lib.SF_SPLIT_TEST, _check_limit(limit))
        tmp = None
        if isinstance(optimize_json, Mapping):
            tmp = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
            json.dump(optimize_json, tmp)
            tmp.close()
            optimize_json = tmp.name
        try:
            with _Progress(progress) as pb:
                r = c_void_p()
                L.sf_report_evaluate(h.ptr, _b(self._name), byref(ds._ds), int(timesteps or 0), pb.fn, None, byref(r))
            try:
                L.sf_report_html(r, _b(optimize_json), _b(path))
                return json.loads(take_string(L.sf_eval_json(r)))
            finally:
                L.sf_eval_result_free(r)
        finally:
            if tmp is not None:
                os.unlink(tmp.name)


# ---------------------------------------------------------------------------------------------
# library-wide calls


def import_nir(path: PathLike, dialect: str = "generic", dt: Optional[float] = None,
               timesteps: Optional[int] = None) -> Tuple["SNNModel", Dict[str, Any]]:
    """Read a NIR file (ours, snnTorch's exporter's, or hand-written) into a spiking model that
    evaluate, run and profile take (``spikeformer import``; sf_import_nir). ``dialect`` and ``dt``
    set the time step where the file has none; ``timesteps`` the T stored with the model.

    Returns:
        (the model, the import report: each NIR node and what it became)
    """
    L = lib()
    o = _lib.opaque("sf_nir_options")
    L.sf_nir_options_default(o)
    L.sf_nir_options_set(o, b"dialect", _text(dialect).encode())
    if dt is not None:
        L.sf_nir_options_set(o, b"dt", repr(float(dt)).encode())
    if timesteps is not None:
        L.sf_nir_options_set(o, b"timesteps", str(int(timesteps)).encode())
    h, rep = c_void_p(), c_void_p()
    L.sf_import_nir(_b(path), o, byref(h), byref(rep))
    p = os.fspath(path)
    model = SNNModel(_Handle(h.value, L.sf_snn_model_free), p, None)
    return model, json.loads(_lib.take_string(rep.value))


def load(path: PathLike) -> Union[Model, SNNModel]:
    """Load a model: an ONNX file or a Hugging Face directory (config.json + model.safetensors)
    gives a :class:`Model`; a converted .sfm file (sf_file_is_sfm) gives an :class:`SNNModel`.

    Raises:
        Error: the library's message (missing file, truncated or malformed model, unknown op, ...).
    """
    L = lib()
    p = os.fspath(path)
    h = c_void_p()
    if L.sf_file_is_sfm(_b(p)):
        L.sf_snn_model_load(_b(p), byref(h))
        return SNNModel(_Handle(h.value, L.sf_snn_model_free), p, p)
    L.sf_graph_load(_b(p), byref(h))
    return Model(_Handle(h.value, L.sf_graph_free), p)


def _model_arg(model: Union[Model, PathLike]) -> Model:
    if isinstance(model, Model):
        return model
    m = load(model)
    if not isinstance(m, Model):
        raise Error(f"{os.fspath(model)}: a converted model (.sfm); this needs the ANN (ONNX file or Hugging Face directory)", _lib.SF_ERR_ARG)
    return m


def convert(model: Union[Model, PathLike], calib: Union[None, PathLike, Dataset] = None, validate: bool = True,
            **options: Any) -> SNNModel:
    """Calibrate and convert an ANN into a spiking network (sf_convert, as ``spikeformer convert``).
    The GIL is released while the library works.

    Args:
        model: a :class:`Model` (or a path to load).
        calib: calibration data: a folder whose train split is read (first calib_samples images;
            default the CLI's data folder), or a :class:`Dataset`.
        validate: check the result with the ArchitectureValidator, as the CLI does, and raise if
            it fails.
        **options: every convert option by name, each set with sf_convert_options_set(key,
            str(value)) in the order given (booleans as "true"/"false"): policy ("max",
            "percentile", "mse"), percentile, per_channel, calib_samples, calib_batch, relu_ec,
            native_gelu, timesteps, neuron ("if", "lif", "burst"), burst_levels, burst_code
            ("unary", "binary"), leak, coding ("rate", "delta"), encoding, seed, and any
            SpikingConfig key (``**{"hardware_constraints.max_fan_in": 1024}``); ``config=FILE``
            reads SpikingConfig keys from a JSON file at that point.

    Returns:
        The converted :class:`SNNModel` (it borrows the source graph, which stays alive with it).
    """
    L = lib()
    _use_threads()
    m = _model_arg(model)
    g = m._h()
    opts = _lib.sf_convert_options()
    L.sf_convert_options_default(byref(opts))
    for k, v in options.items():
        if v is None:
            continue
        if k == "config":
            L.sf_config_load_json(byref(opts.snn), _b(v))
        else:
            L.sf_convert_options_set(byref(opts), k.encode(), _text(v).encode())
    ds = _dataset(calib, _lib.SF_SPLIT_TRAIN, int(opts.calib_samples))
    out = c_void_p()
    t0 = time.perf_counter()
    try:
        L.sf_convert(g.ptr, byref(ds._ds), byref(opts), byref(out))
    except Error as e:  # as the CLI: the model's name in front (sf_error_context)
        if not e.message.startswith(m.name + ":"):
            e.message = f"{m.name}: {e.message}"
            e.args = (e.message,)
        raise
    seconds = time.perf_counter() - t0
    snn = SNNModel(_Handle(out.value, L.sf_snn_model_free, deps=(g,)), None, None, seconds)
    snn._src_name = m.name
    if validate:
        v = snn.validate()
        if not v["valid"]:
            raise Error("validation of the converted model failed:\n  " + "\n  ".join(v["errors"]), _lib.SF_ERR_VALUE)
    return snn


_OPTIMIZE_KEYS = ("max_drop", "val_limit", "test_limit", "tmax", "z", "energy_model", "energy_dir", "backend")


def optimize(model: Union[Model, PathLike], max_drop: float, calib: Union[None, PathLike, Dataset] = None,
             data: Union[None, PathLike, Dataset] = None, progress: Progress = False, mlflow: Optional[PathLike] = None,
             **options: Any) -> Tuple[SNNModel, Dict[str, Any]]:
    """Search neuron type, threshold policy, T and per-layer thresholds for the least energy within
    an accuracy drop (sf_optimize, as ``spikeformer optimize``). The GIL is released while the
    library works (minutes on a full test set).

    Args:
        model: a :class:`Model` (or a path).
        max_drop: accuracy drop allowed against the ANN, in points.
        calib: calibration data (first 512 images of its train split) or a :class:`Dataset`.
        data: test data: validation and held-out images both come from its test split.
        progress: True for a bar on stderr, or a function(what, done, total).
        mlflow: log the run to this MLflow file store.
        **options: val_limit (``--limit``; ``limit`` is accepted too), test_limit, tmax, z
            (``--confidence``), energy_model, energy_dir, backend; other keys are the backend's
            options.

    Returns:
        (the optimised :class:`SNNModel`, converted for the chosen T; the ``optimize --json``
        document). The model is handed over from the result (sf_optimize_result_take_model) and
        borrows the source graph.
    """
    L = lib()
    _use_threads()
    m = _model_arg(model)
    g = m._h()
    o = _lib.sf_optimize_options()
    L.sf_optimize_options_default(byref(o))
    keep = _Keep()  # string options are kept as pointers
    if "limit" in options:
        options["val_limit"] = options.pop("limit")
    backend = options.pop("backend", "cpu")
    L.sf_optimize_options_set(byref(o), b"max_drop", keep(max_drop))
    L.sf_optimize_options_set(byref(o), b"backend", keep(backend))
    target = {}
    for k, v in options.items():
        if v is None:
            continue
        if k in _OPTIMIZE_KEYS:
            L.sf_optimize_options_set(byref(o), k.encode(), keep(v))
        else:
            target[k] = v
    with _BackendOptions(backend, target) as bo, _Progress(progress) as pb:
        o.backend_options = bo.ptr.contents
        o.progress = pb.fn
        cal = _dataset(calib, _lib.SF_SPLIT_TRAIN, 512)
        test = _dataset(data, _lib.SF_SPLIT_TEST, 0)
        r = c_void_p()
        L.sf_optimize(g.ptr, _b(m.name), byref(cal._ds), byref(test._ds), byref(o), byref(r))
        try:
            doc = json.loads(take_string(L.sf_optimize_json(r)))
            if mlflow is not None:
                L.sf_optimize_log_mlflow(r, _b(mlflow))
            mp = L.sf_optimize_result_take_model(r)
        finally:
            L.sf_optimize_result_free(r)
    del keep
    snn = SNNModel(_Handle(mp, L.sf_snn_model_free, deps=(g,)), None, None)
    snn._src_name = m.name
    return snn, doc


def train(model: Union[Model, SNNModel, PathLike], data: Union[None, PathLike, Dataset] = None, test: Union[bool, PathLike, Dataset] = True,
          test_limit: Optional[int] = None, progress: Progress = False, on_epoch: Optional[Callable[[Dict[str, Any]], None]] = None,
          mlflow: Optional[PathLike] = None, teacher: Union[None, Model, PathLike] = None, **options: Any) -> Tuple[SNNModel, Dict[str, Any]]:
    """Train the spiking network of a model (sf_train, as ``spikeformer train``): hybrid fine-tuning of
    its conversion (default) or direct training, with BPTT and a surrogate gradient. The GIL is
    released while the library works.

    Args:
        model: a :class:`Model` (or a path): today a chain of Linear layers with ReLU between them;
            or an :class:`SNNModel` (or .sfm path), whose thresholds and neurons hybrid training
            starts from (sf_train_snn) at its own T unless ``timesteps`` is given.
        data: training data: a folder whose train split is read (its last ``val_images`` images
            validate), or a :class:`Dataset`.
        test: evaluate the trained model through the runtime on the test split of `data` (True),
            on this folder's test split or :class:`Dataset`, or not (False).
        test_limit: only the first N test images.
        progress: True for a bar on stderr, or a function(what, done, total).
        on_epoch: called after each epoch with its figures (a dict: epoch, train_loss,
            train_accuracy, val_accuracy, seconds, images_per_second, spikes_per_neuron_per_step).
        mlflow: log the run to this MLflow file store.
        teacher: distil from this model (a :class:`Model` or a path) with the student's classes;
            without one, the model's own ANN teaches where ``kd_alpha`` > 0 (hybrid's default).
        **options: every train option by name, each set with sf_train_options_set(key, str(value))
            in the order given: mode ("hybrid", "direct"), init ("model", "random"), surrogate
            ("fast_sigmoid", "atan", "sigmoid", "triangle", "straight_through"), slope,
            detach_reset, train_thresholds, rate_penalty, epochs, batch, lr, weight_decay,
            momentum, optimizer ("adamw", "sgd"), schedule ("cosine", "constant"), warmup,
            clip_norm, seed, limit, val_images, beta, kd_alpha (default 1 in hybrid mode or with a
            teacher, else 0),
            kd_temperature (default 4), prune (sparsity of magnitude pruning with fine-tuning),
            prune_per_layer, recompute (K: gradient checkpointing over time every K steps), qat
            ("int8": quantisation-aware training for the int8 runtime),
            checkpoint (a file written after every epoch
            and when the run stops), resume (a checkpoint to continue from, to the same result bit
            for bit), and every convert option (timesteps, neuron, burst_levels, leak, policy,
            calib_samples, ...).

    An exception raised in ``progress`` or ``on_epoch`` (KeyboardInterrupt included) stops the run
    after the step in progress; with ``checkpoint`` set, the state is written first, and
    ``resume=`` continues it.

    Returns:
        (the trained :class:`SNNModel`, the ``train --json`` document).
    """
    L = lib()
    _use_threads()
    start = model if isinstance(model, SNNModel) else None
    if start is None and not isinstance(model, Model) and L.sf_file_is_sfm(_b(os.fspath(model))):
        start = load(model)  # type: ignore[assignment]
    m = _model_arg(model) if start is None else None
    name = m.name if m is not None else (start._name or start.source)  # type: ignore[union-attr]
    o = _lib.sf_train_options()
    L.sf_train_options_default(byref(o))
    if start is not None and "timesteps" not in options:
        o.convert.snn.timesteps = start.timesteps  # the steps it was converted for, unless asked
    keep: List[bytes] = []  # the option strings the library keeps pointers to (checkpoint, resume)
    for k, v in options.items():
        if v is None:
            continue
        b = _text(v).encode()
        keep.append(b)
        L.sf_train_options_set(byref(o), k.encode(), b)
    if test is True and isinstance(data, Dataset):
        raise Error("train: data is a Dataset: pass test=False, or the test images as test=FOLDER or test=Dataset", _lib.SF_ERR_ARG)
    t = _model_arg(teacher) if teacher is not None else None
    if t is not None:
        o.teacher = t._h().ptr
    errors: List[BaseException] = []
    stop = c_int(0)  # set when a callback raises: the run stops after its step and writes its checkpoint
    o.stop = pointer(stop)

    def request_stop() -> None:
        stop.value = 1

    def epoch_cb(ep: Any, user: Any) -> None:
        try:
            e = ep.contents
            on_epoch({f: getattr(e, f) for f, _ in _lib.sf_train_epoch._fields_})  # type: ignore[misc]
        except BaseException as ex:  # an exception cannot cross the C frames: re-raised after the call
            errors.append(ex)
            request_stop()

    with _Progress(progress, request_stop) as pb:
        o.progress = pb.fn
        efn = _lib.EPOCH_FN(epoch_cb) if on_epoch is not None else _lib.EPOCH_FN()
        o.on_epoch = efn
        ds = _dataset(data, _lib.SF_SPLIT_TRAIN, 0)
        r = c_void_p()
        try:
            if start is not None:
                L.sf_train_snn(start._h().ptr, _b(name), byref(ds._ds), byref(o), byref(r))
            else:
                L.sf_train(m._h().ptr, _b(name), byref(ds._ds), byref(o), byref(r))  # type: ignore[union-attr]
        except Error as ex:
            first = errors[0] if errors else pb.error
            if first is not None and ex.code == _lib.SF_ERR_INTERRUPTED:
                pb.error = None
                raise first from ex  # the callback's exception, the run stopped (and checkpointed) for it
            raise
        try:
            if errors:
                raise errors[0]
            if test is not False:
                tds = _dataset(data if test is True else test, _lib.SF_SPLIT_TEST, _check_limit(test_limit, "test_limit"))
                L.sf_train_evaluate(r, byref(tds._ds), None, None)
            doc = json.loads(take_string(L.sf_train_json(r)))
            if mlflow is not None:
                L.sf_train_log_mlflow(r, _b(mlflow))
            mp = L.sf_train_result_take_model(r)
        finally:
            L.sf_train_result_free(r)
    snn = SNNModel(_Handle(mp, L.sf_snn_model_free), None, None)
    snn._src_name = name
    return snn, doc


def ops() -> List[Dict[str, str]]:
    """Every op the importer and the float executor support (as ``spikeformer ops``): op_type,
    domain ("" = ONNX, "spikeformer" = fused by SpikeFormer's passes) and a line on what it does."""
    L = lib()
    out = []
    for i in range(L.sf_op_count()):
        t, d, s = c_char_p(), c_char_p(), c_char_p()
        L.sf_op_describe(i, byref(t), byref(d), byref(s))
        out.append({"op_type": _s(t.value), "domain": _s(d.value), "summary": _s(s.value)})
    return out


def config(keys: Optional[Mapping[str, Any]] = None, file: Optional[PathLike] = None, **kwargs: Any) -> Dict[str, Any]:
    """The effective SpikingConfig as a dict (as ``spikeformer config``): the defaults, then the
    keys of a JSON `file`, then `keys` and keyword arguments in order (sf_config_set; nested keys as
    "hardware_constraints.max_fan_in" in `keys`; neuron / encoding are accepted for neuron_model /
    spike_encoding)."""
    L = lib()
    c = L.sf_config_new()
    if not c:
        raise Error("out of memory", _lib.SF_ERR_NOMEM)
    try:
        if file is not None:
            L.sf_config_load_json(c, _b(file))
        alias = {"neuron": "neuron_model", "encoding": "spike_encoding"}
        for k, v in list((keys or {}).items()) + list(kwargs.items()):
            L.sf_config_set(c, alias.get(k, k).encode(), _text(v).encode())
        return json.loads(take_string(L.sf_config_to_json(c)))
    finally:
        L.sf_config_free(c)


def version() -> str:
    """The library's version (sf_version)."""
    return _s(lib().sf_version())


def set_threads(n: int) -> None:
    """Threads for SpikeFormer's kernels and OpenBLAS (n <= 0: all cores), as ``--threads``. Every
    later call runs with it, on whichever Python thread makes the call."""
    global _threads
    _threads = max(int(n), 0)
    lib().sf_threads_set(_threads)


_dist_started = False


def distributed() -> Dict[str, int]:
    """Join the data-parallel run this process belongs to (dist.h), when it was started by mpirun
    (``mpirun -np 2 python3 script.py``): every later :func:`train`, ``evaluate`` and
    :func:`optimize` then takes this rank's share of the samples and combines the ranks' figures, as
    ``mpirun -np N spikeformer ...`` does; each rank gets cores / ranks threads. Started without
    mpirun, the world is this process alone. MPI is shut down when Python exits.

    Returns:
        {"rank": this process's rank, "size": the number of ranks, "available": 1 if this build has MPI}
    """
    global _dist_started
    L = lib()
    L.sf_dist_init()
    if not _dist_started:
        _dist_started = True
        atexit.register(L.sf_dist_finalize)
    return {"rank": int(L.sf_dist_rank()), "size": int(L.sf_dist_size()), "available": int(L.sf_dist_available())}


def threads() -> int:
    """The thread count calls run with."""
    _use_threads()
    return int(lib().sf_threads_get())


def backends() -> List[Dict[str, Any]]:
    """The backends (name, description) and each one's own options (key -> help)."""
    L = lib()
    out = []
    for i in range(L.sf_backend_count()):
        b = L.sf_backend_at(i)
        keys = {}
        for k in range(L.sf_backend_target_count(b)):
            hlp = c_char_p()
            key = L.sf_backend_target_key(b, k, byref(hlp))
            keys[_s(key)] = _s(hlp.value)
        out.append({"name": _s(L.sf_backend_name(b)), "description": _s(L.sf_backend_description(b)), "options": keys})
    return out


def library_path() -> str:
    """Path of the libspikeformer that was loaded."""
    return _lib.lib_path()


def energy_dir() -> str:
    """The energy-model folder the library reads by default (sf_energy_default_dir)."""
    return _s(lib().sf_energy_default_dir())


def blas_core() -> str:
    """The OpenBLAS kernel family in use (e.g. "Haswell", "SkylakeX")."""
    return _s(lib().sf_blas_core())



