"""ctypes declarations of libspikeformer's public C API (include/spikeformer/*.h).

Why ctypes: the package needs no compiler and no dependency beyond numpy at install time; every
foreign call goes through ``ctypes.CDLL``, which releases the GIL for the duration of the call, so
runs on several Python threads proceed in parallel; and the library's ABI is plain C with opaque
handles and key/value option setters, so little struct layout is mirrored here. The structs that
are mirrored (sf_tensor, and the small option / result structs a caller allocates) are checked at
load time against ``sf_struct_size`` of the library that was loaded, so a library built from other
headers is refused with a clear message instead of corrupting memory.

Every function used by the package has its ``argtypes`` and ``restype`` declared below; functions
that return an ``sf_status`` get an ``errcheck`` that raises :class:`spikeformer.Error` with the
library's thread-local message, read right after the failing call on the same thread.

Where the library is found, in order:
  1. the environment variable ``SPIKEFORMER_LIB`` (a path to libspikeformer.so);
  2. a copy bundled into the package by ``pip install ./python`` (``spikeformer/_bundled/``);
  3. an installed prefix: ``<prefix>/lib/libspikeformer.so.0`` beside
     ``<prefix>/lib/pythonX.Y/site-packages/spikeformer/`` (``make install PREFIX=...``);
  4. the repository's ``build/libspikeformer.so`` when the package is used from the source tree;
  5. ``ctypes.util.find_library("spikeformer")``.
It is loaded on the first call (so ``import spikeformer`` always works and a missing library raises
:class:`spikeformer.Error` from that call). The energy models installed with the package (bundled
by pip, or ``<prefix>/share/spikeformer/energy``) are announced to the library at import through
``SPIKEFORMER_ENERGY_DIR``, unless that is set already.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import warnings
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t,
                    c_uint64, c_void_p)
from pathlib import Path
from typing import Any, List, Optional, Tuple

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "_bundled"
LIBNAME = "libspikeformer.so.0"

SF_MAX_DIMS = 8
SF_SPLIT_TRAIN = 0
SF_SPLIT_TEST = 1
SF_ERR_VALUE = 5
SF_ERR_ARG = 6
SF_ERR_NOMEM = 7
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"  # SF_DEFAULT_DATA_DIR (dataset.h)


# sf_status (status.h) and the names sf_status_name gives them
STATUS_NAMES = {0: "ok", 1: "i/o error", 2: "format error", 3: "unsupported", 4: "shape error", 5: "value error", 6: "argument error",
                7: "out of memory", 8: "internal error", 9: "interrupted"}
SF_ERR_IO, SF_ERR_FORMAT, SF_ERR_UNSUPPORTED, SF_ERR_SHAPE, SF_ERR_INTERNAL, SF_ERR_INTERRUPTED = 1, 2, 3, 4, 8, 9


class Error(RuntimeError):
    """An error reported by libspikeformer (or raised because the library cannot be used).

    Attributes:
        message: the library's message (``sf_last_error()``), naming what failed and where.
        status: the status name (``sf_status_name()``): "i/o error", "format error", "unsupported",
            "shape error", "value error", "argument error", "out of memory", "internal error" or
            "interrupted".
        code: the sf_status number (1 = SF_ERR_IO ... 9 = SF_ERR_INTERRUPTED).
    """

    def __init__(self, message: str, code: int = SF_ERR_INTERNAL, status: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status if status is not None else STATUS_NAMES.get(code, "unknown error")

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"spikeformer.Error({self.message!r}, status={self.status!r})"


# ---- mirrored structs (sizes checked against sf_struct_size at load) ----

class sf_tensor(Structure):
    _fields_ = [("dtype", c_int), ("ndim", c_int), ("shape", c_int64 * SF_MAX_DIMS), ("data", c_void_p), ("owns_data", c_int)]


class sf_dataset(Structure):
    _fields_ = [("n", c_int64), ("c", c_int64), ("h", c_int64), ("w", c_int64), ("x", POINTER(c_float)), ("labels", POINTER(c_int32)),
                ("n_classes", c_int32), ("source", c_char_p)]


class sf_hardware_constraints(Structure):
    _fields_ = [("max_fan_in", c_int), ("max_neurons_per_core", c_int)]


class sf_spiking_config(Structure):
    _fields_ = [("timesteps", c_int), ("neuron_model", c_int), ("leak", c_float), ("burst_levels", c_int), ("burst_code", c_int),
                ("spike_encoding", c_int), ("coding", c_int), ("seed", c_uint64), ("hardware_constraints", sf_hardware_constraints),
                ("reset", c_int), ("v_init", c_float)]


class sf_convert_options(Structure):
    _fields_ = [("policy", c_int), ("percentile", c_double), ("per_channel", c_int), ("calib_samples", c_int), ("calib_batch", c_int),
                ("snn", sf_spiking_config), ("relu_ec", c_int), ("native_gelu", c_int)]


class sf_analyze_options(Structure):
    _fields_ = [("batch", c_int64), ("seq_len", c_int64), ("fuse", c_int)]


class sf_validation(Structure):
    _fields_ = [("n_errors", c_int), ("errors", POINTER(c_char_p)), ("n_checked_nodes", c_int), ("max_fan_in", c_int)]


class sf_backend_options(Structure):
    _fields_ = [("encoding", c_int), ("decoder", c_int), ("raster_neurons", c_int), ("target", c_void_p)]


PROGRESS_FN = CFUNCTYPE(None, c_char_p, c_int64, c_int64, c_void_p)


class sf_ann_eval_options(Structure):
    _fields_ = [("batch", c_int64), ("keep_predictions", c_int), ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


class sf_ann_eval_result(Structure):
    _fields_ = [("model", c_char_p), ("data", c_char_p), ("samples", c_int64), ("correct", c_int64), ("classes", c_int64),
                ("accuracy", c_double), ("seconds", c_double), ("threads", c_int), ("predictions", POINTER(c_int64))]


class sf_eval_options(Structure):
    _fields_ = [("timesteps", c_int), ("batch", c_int64), ("ann", c_int), ("profile", c_int), ("energy_dir", c_char_p), ("backend", c_char_p),
                ("backend_options", sf_backend_options), ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


class sf_optimize_options(Structure):
    _fields_ = [("max_drop", c_double), ("val_limit", c_int64), ("test_limit", c_int64), ("tmax", c_int), ("z", c_double),
                ("energy_model", c_char_p), ("energy_dir", c_char_p), ("backend", c_char_p), ("backend_options", sf_backend_options),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


# sf_dtype (tensor.h) item sizes: f32, f64, i8, i16, i32, i64, u8, bool
DTYPE_SIZES = (4, 8, 1, 2, 4, 8, 1, 1)

class sf_train_epoch(Structure):
    _fields_ = [("epoch", c_int), ("train_loss", c_double), ("train_accuracy", c_double), ("val_accuracy", c_double), ("seconds", c_double),
                ("images_per_second", c_double), ("spikes_per_neuron_per_step", c_double)]


EPOCH_FN = CFUNCTYPE(None, POINTER(sf_train_epoch), c_void_p)


class sf_train_options(Structure):
    _fields_ = [("mode", c_int), ("convert", sf_convert_options), ("init_random", c_int), ("surrogate", c_int), ("slope", c_float),
                ("detach_reset", c_int), ("train_thresholds", c_int), ("rate_penalty", c_double), ("epochs", c_int), ("batch", c_int),
                ("lr", c_double), ("weight_decay", c_double), ("momentum", c_double), ("optimizer", c_int), ("schedule", c_int),
                ("warmup_steps", c_int), ("clip_norm", c_double), ("seed", c_uint64), ("limit", c_int64), ("val_images", c_int64),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p), ("on_epoch", EPOCH_FN), ("on_epoch_user", c_void_p),
                ("checkpoint", c_char_p), ("resume", c_char_p), ("stop", POINTER(c_int)), ("teacher", c_void_p), ("kd_alpha", c_double),
                ("kd_temperature", c_double), ("prune", c_double), ("prune_per_layer", c_int), ("recompute", c_int), ("qat", c_int),
                ("augment", c_int)]


MIRRORED = [sf_tensor, sf_dataset, sf_hardware_constraints, sf_spiking_config, sf_convert_options, sf_analyze_options, sf_validation,
            sf_backend_options, sf_ann_eval_options, sf_ann_eval_result, sf_eval_options, sf_optimize_options, sf_train_epoch,
            sf_train_options]
# passed along only, never read: storage of the library's size
OPAQUE = ["sf_model_report", "sf_nir_options"]

# ---- function declarations: name -> (restype, argtypes); restype "status" gets the errcheck ----
STATUS = "status"
P = c_void_p          # opaque handles (sf_graph *, sf_snn_model *, ...)
PT = POINTER(sf_tensor)
PD = POINTER(sf_dataset)

FUNCTIONS = {
    # status.h
    "sf_last_error": (c_char_p, []),
    "sf_status_name": (c_char_p, [c_int]),
    "sf_clear_error": (None, []),
    # spikeformer.h / threads.h / energy.h / tensor.h
    "sf_version": (c_char_p, []),
    "sf_threads_set": (None, [c_int]),
    "sf_threads_get": (c_int, []),
    # dist.h
    "sf_dist_init": (STATUS, []),
    "sf_dist_rank": (c_int, []),
    "sf_dist_size": (c_int, []),
    "sf_dist_available": (c_int, []),
    "sf_dist_finalize": (None, []),
    "sf_blas_core": (c_char_p, []),
    "sf_blas_better_core": (c_char_p, []),
    "sf_energy_default_dir": (c_char_p, []),
    "sf_dtype_size": (c_size_t, [c_int]),
    "sf_dtype_name": (c_char_p, [c_int]),
    "sf_tensor_free": (None, [PT]),
    # eval.h helpers for front ends
    "sf_free": (None, [c_void_p]),
    "sf_struct_size": (c_size_t, [c_char_p]),
    "sf_file_is_sfm": (c_int, [c_char_p]),
    "sf_write_text_file": (STATUS, [c_char_p, c_char_p]),
    "sf_check_writable": (STATUS, [POINTER(c_char_p), c_int]),
    # graph.h
    "sf_graph_load": (STATUS, [c_char_p, POINTER(P)]),
    "sf_graph_free": (None, [P]),
    "sf_graph_num_inputs": (c_int, [P]),
    "sf_graph_num_outputs": (c_int, [P]),
    "sf_graph_input_name": (c_char_p, [P, c_int]),
    "sf_graph_output_name": (c_char_p, [P, c_int]),
    "sf_graph_input_desc": (sf_tensor, [P, c_int]),
    "sf_graph_num_nodes": (c_int, [P]),
    "sf_graph_source": (c_char_p, [P]),
    "sf_op_count": (c_int, []),
    "sf_op_describe": (c_int, [c_int, POINTER(c_char_p), POINTER(c_char_p), POINTER(c_char_p)]),
    # infer.h
    "sf_infer": (STATUS, [P, c_int, POINTER(c_char_p), PT, POINTER(c_char_p), POINTER(PT), POINTER(c_int)]),
    "sf_infer_outputs_free": (None, [PT, c_int]),
    "sf_infer_snn": (STATUS, [P, c_char_p, c_void_p, PT, c_int, PT]),
    "sf_infer_snn_frames": (STATUS, [P, c_char_p, c_void_p, PT, PT]),
    # analyze.h
    "sf_analyze_options_default": (None, [POINTER(sf_analyze_options)]),
    "sf_analyze_model": (STATUS, [P, POINTER(sf_analyze_options), c_void_p]),
    "sf_model_report_json": (c_void_p, [c_void_p, c_char_p]),
    "sf_model_report_free": (None, [c_void_p]),
    # dataset.h
    "sf_dataset_load": (STATUS, [c_char_p, c_int, c_int64, PD]),
    "sf_dataset_free": (None, [PD]),
    # config.h
    "sf_config_new": (POINTER(sf_spiking_config), []),
    "sf_config_free": (None, [POINTER(sf_spiking_config)]),
    "sf_config_set": (STATUS, [POINTER(sf_spiking_config), c_char_p, c_char_p]),
    "sf_config_load_json": (STATUS, [POINTER(sf_spiking_config), c_char_p]),
    "sf_config_to_json": (c_void_p, [POINTER(sf_spiking_config)]),
    # convert.h
    "sf_convert_options_default": (None, [POINTER(sf_convert_options)]),
    "sf_convert_options_set": (STATUS, [POINTER(sf_convert_options), c_char_p, c_char_p]),
    "sf_convert": (STATUS, [P, PD, POINTER(sf_convert_options), POINTER(P)]),
    "sf_snn_model_free": (None, [P]),
    "sf_snn_model_num_sites": (c_int, [P]),
    "sf_snn_model_site": (None, [P, c_int, POINTER(c_char_p), POINTER(c_int), POINTER(c_float), POINTER(c_float), POINTER(c_float),
                                 POINTER(c_int)]),
    "sf_snn_model_options": (POINTER(sf_convert_options), [P]),
    "sf_snn_model_source": (P, [P]),
    "sf_snn_model_calib_seconds": (c_double, [P]),
    "sf_snn_model_save": (STATUS, [P, c_char_p]),
    "sf_snn_model_load": (STATUS, [c_char_p, POINTER(P)]),
    "sf_snn_model_set_timesteps": (None, [P, c_int]),
    "sf_snn_model_source_sha256": (c_char_p, [P]),
    "sf_snn_model_json": (c_void_p, [P, c_char_p, c_char_p, c_double]),
    "sf_nir_options_default": (None, [P]),
    "sf_nir_options_set": (STATUS, [P, c_char_p, c_char_p]),
    "sf_export_nir": (STATUS, [P, c_char_p, P, POINTER(c_void_p)]),
    "sf_import_nir": (STATUS, [c_char_p, P, POINTER(P), POINTER(c_void_p)]),
    "sf_snn_model_classes": (c_int64, [P]),
    # validate.h
    "sf_snn_model_validate": (c_int, [P, POINTER(sf_hardware_constraints), POINTER(sf_validation)]),  # SF_ERR_VALUE = invalid
    "sf_validation_free": (None, [POINTER(sf_validation)]),
    # backend.h
    "sf_backend_compile_report": (STATUS, [P, P, POINTER(sf_backend_options), PD, c_int, POINTER(c_void_p), POINTER(c_void_p)]),
    # loihi2.h
    "sf_export_netx": (STATUS, [P, c_void_p, c_char_p]),
    "sf_backend_find": (STATUS, [c_char_p, POINTER(P)]),
    "sf_backend_name": (c_char_p, [P]),
    "sf_backend_description": (c_char_p, [P]),
    "sf_backend_count": (c_int, []),
    "sf_backend_at": (P, [c_int]),
    "sf_backend_target_count": (c_int, [P]),
    "sf_backend_target_key": (c_char_p, [P, c_int, POINTER(c_char_p)]),
    "sf_backend_options_new": (STATUS, [P, POINTER(POINTER(sf_backend_options))]),
    "sf_backend_options_set": (STATUS, [POINTER(sf_backend_options), P, c_char_p, c_char_p]),
    "sf_backend_options_free": (None, [POINTER(sf_backend_options)]),
    # eval.h
    "sf_ann_eval_options_default": (None, [POINTER(sf_ann_eval_options)]),
    "sf_eval_ann": (STATUS, [P, c_char_p, PD, POINTER(sf_ann_eval_options), POINTER(POINTER(sf_ann_eval_result))]),
    "sf_ann_eval_json": (c_void_p, [POINTER(sf_ann_eval_result)]),
    "sf_ann_eval_result_free": (None, [POINTER(sf_ann_eval_result)]),
    "sf_eval_options_default": (None, [POINTER(sf_eval_options)]),
    "sf_eval_options_set": (STATUS, [POINTER(sf_eval_options), c_char_p, c_char_p]),
    "sf_eval_snn": (STATUS, [P, c_char_p, PD, POINTER(sf_eval_options), POINTER(P)]),
    "sf_eval_json": (c_void_p, [P]),
    "sf_eval_log_mlflow": (STATUS, [P, c_char_p, c_char_p]),
    "sf_eval_result_free": (None, [P]),
    # report.h
    "sf_report_evaluate": (STATUS, [P, c_char_p, PD, c_int, PROGRESS_FN, c_void_p, POINTER(P)]),
    "sf_report_html": (STATUS, [P, c_char_p, c_char_p]),
    # optimize.h
    "sf_optimize_options_default": (None, [POINTER(sf_optimize_options)]),
    "sf_optimize_options_set": (STATUS, [POINTER(sf_optimize_options), c_char_p, c_char_p]),
    "sf_optimize": (STATUS, [P, c_char_p, PD, PD, POINTER(sf_optimize_options), POINTER(P)]),
    "sf_optimize_json": (c_void_p, [P]),
    "sf_optimize_log_mlflow": (STATUS, [P, c_char_p]),
    "sf_optimize_result_take_model": (P, [P]),
    "sf_optimize_result_free": (None, [P]),
    # train.h
    "sf_train_options_default": (None, [POINTER(sf_train_options)]),
    "sf_train_options_set": (STATUS, [POINTER(sf_train_options), c_char_p, c_char_p]),
    "sf_train": (STATUS, [P, c_char_p, PD, POINTER(sf_train_options), POINTER(P)]),
    "sf_train_snn": (STATUS, [P, c_char_p, PD, POINTER(sf_train_options), POINTER(P)]),
    "sf_train_evaluate": (STATUS, [P, PD, c_void_p, POINTER(c_double)]),
    "sf_train_json": (c_void_p, [P]),
    "sf_train_log_mlflow": (STATUS, [P, c_char_p]),
    "sf_train_result_take_model": (P, [P]),
    "sf_train_result_free": (None, [P]),
    "sf_surrogate_grad": (c_float, [c_int, c_float, c_float]),
    "sf_surrogate_parse": (c_int, [c_char_p, POINTER(c_int)]),
    "sf_surrogate_default_slope": (c_float, [c_int]),
}


def _errcheck(result: int, func: Any, args: Tuple[Any, ...]) -> int:
    """Raise Error for a non-zero sf_status, with the message the call left on this thread."""
    if result:
        raise last_error(result)
    return result


_lib: Optional[ctypes.CDLL] = None
_lib_path: Optional[str] = None
_lock = threading.Lock()


def last_error(status: int) -> Error:
    """The Error for `status`, carrying sf_last_error() of the calling thread."""
    lib = _lib
    assert lib is not None
    msg = (lib.sf_last_error() or b"").decode("utf-8", "replace")
    name = (lib.sf_status_name(status) or b"unknown error").decode()
    return Error(msg or name, int(status), name)


def _candidates() -> List[Tuple[str, str]]:
    """(how it was found, path) for every place the library may be, in order."""
    out: List[Tuple[str, str]] = []
    env = os.environ.get("SPIKEFORMER_LIB")
    if env:
        out.append(("SPIKEFORMER_LIB", env))
        return out  # an explicit choice is the only one tried
    out.append(("bundled with the package", str(BUNDLED_DIR / LIBNAME)))
    prefix = PACKAGE_DIR.parents[3] if len(PACKAGE_DIR.parents) > 3 else None
    if prefix is not None:
        out.append(("installed prefix", str(prefix / "lib" / LIBNAME)))
    out.append(("source tree", str(PACKAGE_DIR.parents[1] / "build" / "libspikeformer.so")))
    found = ctypes.util.find_library("spikeformer")
    if found:
        out.append(("ctypes.util.find_library", found))
    return out


def _packaged_energy_dir() -> Optional[Path]:
    """The energy models installed with the package: bundled by pip, or PREFIX/share/spikeformer/energy
    beside PREFIX/lib/libspikeformer.so.0 when the package sits in PREFIX/lib/pythonX.Y/site-packages."""
    if (BUNDLED_DIR / "energy").is_dir():
        return BUNDLED_DIR / "energy"
    if len(PACKAGE_DIR.parents) > 3:
        prefix = PACKAGE_DIR.parents[3]
        d = prefix / "share" / "spikeformer" / "energy"
        if (prefix / "lib" / LIBNAME).exists() and d.is_dir():
            return d
    return None


# The library reads SPIKEFORMER_ENERGY_DIR in sf_energy_default_dir(): point it at the package's
# energy models at import, before any call (a value already set wins).
if not os.environ.get("SPIKEFORMER_ENERGY_DIR"):
    _energy = _packaged_energy_dir()
    if _energy is not None:
        os.environ["SPIKEFORMER_ENERGY_DIR"] = str(_energy)


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            raise Error(f"{lib._name}: the library has no function {name}: it is older than this package (rebuild it, or point "
                        f"SPIKEFORMER_LIB at a matching build)", SF_ERR_UNSUPPORTED) from None
        if restype == STATUS:
            f.restype = c_int
            f.errcheck = _errcheck
        else:
            f.restype = restype
        f.argtypes = argtypes


def _check_layouts(lib: ctypes.CDLL) -> None:
    for st in MIRRORED:
        want = lib.sf_struct_size(st.__name__.encode())
        if want != ctypes.sizeof(st):
            raise Error(f"{lib._name}: struct {st.__name__} is {want} bytes in the library but {ctypes.sizeof(st)} in the Python "
                        f"package: the library was built from other headers than this package mirrors (use a matching build)",
                        SF_ERR_UNSUPPORTED)
    for name in OPAQUE:
        if not lib.sf_struct_size(name.encode()):
            raise Error(f"{lib._name}: the library does not know struct {name}", SF_ERR_UNSUPPORTED)
    for code, size in enumerate(DTYPE_SIZES):  # sf_dtype, as numpy's item sizes of the same types
        if lib.sf_dtype_size(code) != size:
            raise Error(f"{lib._name}: sf_dtype {code} is {lib.sf_dtype_size(code)} bytes in the library, {size} in the Python package",
                        SF_ERR_UNSUPPORTED)


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use; see the module docstring for where it is looked for)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for how, path in _candidates():
            is_name = os.sep not in path  # find_library gives a soname
            if not is_name and not os.path.exists(path):
                tried.append(f"  {how}: {path} (not there)")
                continue
            try:
                handle = ctypes.CDLL(path)
            except OSError as e:
                tried.append(f"  {how}: {path} ({e})")
                if how == "SPIKEFORMER_LIB":
                    break
                continue
            _declare(handle)
            _check_layouts(handle)
            better = handle.sf_blas_better_core()
            if better and not os.environ.get("SF_KEEP_BLAS_CORE"):
                core = handle.sf_blas_core().decode()
                warnings.warn(f"OpenBLAS runs its generic {core} kernels on this CPU; set OPENBLAS_CORETYPE={better.decode()} "
                              f"before Python starts for 1.7-3.5x faster float layers (the spikeformer CLI does this by itself; "
                              f"SF_KEEP_BLAS_CORE=1 silences this)", RuntimeWarning, stacklevel=3)
            _lib, _lib_path = handle, path
            return handle
        raise Error("libspikeformer could not be loaded; tried:\n" + "\n".join(tried) +
                    "\nBuild it (make, or cmake --build build) and set SPIKEFORMER_LIB=/path/to/libspikeformer.so, or install the "
                    "package with pip install ./python after building", SF_ERR_IO)


def lib_path() -> str:
    """Path of the library that was loaded (loads it if needed)."""
    lib()
    assert _lib_path is not None
    return _lib_path


def opaque(name: str) -> ctypes.Array:
    """Zeroed, 8-byte aligned storage for a struct the package passes along without reading it."""
    n = lib().sf_struct_size(name.encode())
    return (c_int64 * ((n + 7) // 8))()


def take_string(ptr: Optional[int]) -> str:
    """Text the library allocated (JSON): decoded, then freed with sf_free."""
    if not ptr:
        raise Error("out of memory", SF_ERR_NOMEM)
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib().sf_free(ptr)


__all__ = ["Error", "lib", "lib_path", "opaque", "take_string", "last_error"]
