"""spikeformer: convert pre-trained transformers into spiking neural networks, run, evaluate and
profile them, from Python, over libspikeformer's public C API.

    import spikeformer as sf
    m = sf.load("models/vit/model.onnx")         # ONNX file, Hugging Face directory or .sfm
    y = m.run(x)                                  # numpy in, numpy out
    snn = sf.convert(m, calib="/usr/share/datasets/fashion-mnist", timesteps=8)
    r = snn.evaluate(limit=1000)                  # the dict of `spikeformer eval --json`
    print(r["ann_accuracy"], r["snn_accuracy_by_t"])
    trained, doc = sf.train("models/mlp/model.onnx", epochs=2, timesteps=4)  # BPTT, surrogate gradients
    snn.export("out/mlp.nir", dialect="snntorch"); net, rep = sf.import_nir("out/mlp.nir")  # NIR

Every call runs the same library functions as the CLI command of the same name, so results equal
the CLI's. Errors of the library raise :class:`Error` (a RuntimeError) with its message and status.

Why ctypes (and not a compiled extension): nothing is compiled at install time and nothing beyond
numpy is needed; every foreign call goes through ``ctypes.CDLL``, which releases the GIL while the
library works, so several Python threads run models in parallel; and the library's ABI is plain C
with opaque handles and key/value option setters (``sf_convert_options_set``,
``sf_backend_options_set``, ``sf_eval_options_set``), so little struct layout is mirrored: sf_tensor
and a few small option and result structs, each checked against the loaded library's
``sf_struct_size`` when it loads.

The library is looked for in SPIKEFORMER_LIB, then a copy bundled by ``pip install``, then an
installed prefix (``make install PREFIX=...``), then the source tree's build/, then the system
(see :mod:`spikeformer._lib`).
"""
from ._api import (Dataset, Model, SNNModel, backends, blas_core, config, convert, distributed, energy_dir, import_nir, library_path, load,
                   load_dataset, ops, optimize, set_threads, threads, train, version)
from ._lib import Error
from ._torch import from_torch

__version__ = "0.1.0"

__all__ = ["Error", "Model", "SNNModel", "Dataset", "load", "convert", "optimize", "train", "import_nir", "from_torch", "load_dataset", "ops", "config",
           "version", "set_threads", "threads", "distributed", "backends", "library_path", "energy_dir", "blas_core", "__version__"]
