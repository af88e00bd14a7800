"""PyTorch models into SpikeFormer: torch.onnx.export to a temporary ONNX file, then sf_graph_load."""
from __future__ import annotations

import os
import tempfile
import warnings
from ctypes import byref, c_void_p
from typing import Any, List, Optional, Sequence

import numpy as np

from ._api import Model, _b, _Handle
from ._lib import lib

DEFAULT_OPSET = 17


def _max_opset() -> int:
    try:
        from torch.onnx import _constants
        return int(getattr(_constants, "ONNX_MAX_OPSET", DEFAULT_OPSET))
    except Exception:  # older / newer layouts of torch.onnx
        return DEFAULT_OPSET


def from_torch(module: Any, example_input: Any, opset: Optional[int] = None, input_names: Optional[Sequence[str]] = None,
               output_names: Optional[Sequence[str]] = None, dynamic_batch: bool = True, name: Optional[str] = None) -> Model:
    """Import a PyTorch module: ``torch.onnx.export`` (in eval mode, opset 17 or the highest the
    installed torch supports, the first dimension of every input and output free) into a temporary
    folder, then load that file as a :class:`Model`.

    The temporary folder belongs to the returned Model (and to every model converted from it, which
    borrows the graph): it is removed when the last of them goes, so ``SNNModel.save`` can still
    embed the source model.

    Args:
        module: a ``torch.nn.Module``.
        example_input: a tensor / numpy array, or a tuple of them (one per input), used to trace.
        opset: ONNX opset (default: 17, or the exporter's highest if lower).
        input_names / output_names: graph names (default "input" / "output", numbered when several).
        dynamic_batch: export the first dimension as free, so the Model runs any batch size.
        name: how results call the model (default: the temporary file's path).

    Returns:
        The imported :class:`Model`.

    Raises:
        spikeformer.Error: the library refused the exported file (its message names the op or node).
    """
    import torch

    args = example_input if isinstance(example_input, tuple) else (example_input,)
    args = tuple(torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args)
    with torch.no_grad():
        was_training = module.training
        module.eval()
        try:
            probe = module(*args)
        finally:
            module.train(was_training)
    n_out = len(probe) if isinstance(probe, (tuple, list)) else 1
    ins: List[str] = list(input_names) if input_names else (["input"] if len(args) == 1 else [f"input_{i}" for i in range(len(args))])
    outs: List[str] = list(output_names) if output_names else (["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)])
    dyn = {n: {0: "batch"} for n in ins + outs} if dynamic_batch else None
    tmp = tempfile.TemporaryDirectory(prefix="spikeformer-torch-")
    path = os.path.join(tmp.name, "model.onnx")
    was_training = module.training
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes and constants
            torch.onnx.export(module, args, path, opset_version=opset or min(DEFAULT_OPSET, _max_opset()), input_names=ins,
                              output_names=outs, dynamic_axes=dyn, do_constant_folding=True)
    finally:
        module.train(was_training)
    h = c_void_p()
    L = lib()
    L.sf_graph_load(_b(path), byref(h))
    return Model(_Handle(h.value, L.sf_graph_free, deps=(tmp,)), name or path)
