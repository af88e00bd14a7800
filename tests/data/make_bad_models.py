"""Writes the small malformed models used by tests/cli_bad_input.sh (run with /usr/bin/python3).
Committed outputs: unknown_op.onnx, bad_shapes.onnx, nan_weight.onnx, hf_missing_tensor/,
unconvertible.onnx, no_outputs.onnx."""
import json, os, shutil, struct
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))

def save(model, name):
    onnx.save(model, os.path.join(here, name))

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
# an op nobody implements
g = helper.make_graph([helper.make_node("FrobnicateTensor", ["x"], ["y"], name="frob_1")], "g", [x], [y])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "unknown_op.onnx")
# MatMul of [1,4] by a [3,2] weight: inner dimensions differ
w = numpy_helper.from_array(np.ones((3, 2), np.float32), "w")
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")], "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "bad_shapes.onnx")
# a NaN in a weight
wn = np.ones((4, 4), np.float32); wn[2, 1] = np.nan
g = helper.make_graph([helper.make_node("MatMul", ["x", "wn"], ["y"], name="proj")], "g", [x], [y], [numpy_helper.from_array(wn, "wn")])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "nan_weight.onnx")

# a Hugging Face directory whose safetensors lacks one tensor
src = os.path.join(here, "..", "..", "models", "hf_text", "bert_cls")
dst = os.path.join(here, "hf_missing_tensor")
os.makedirs(dst, exist_ok=True)
shutil.copy(os.path.join(src, "config.json"), dst)
with open(os.path.join(src, "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
drop = "bert.encoder.layer.1.attention.self.value.weight"
out, blobs, off = {"__metadata__": header.get("__metadata__", {})}, [], 0
for k, v in header.items():
    if k == "__metadata__" or k == drop:
        continue
    b, e = v["data_offsets"]
    blobs.append(data[b:e])
    out[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [off, off + e - b]}
    off += e - b
h = json.dumps(out).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(dst, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
print("written")

# a node with no spiking form: indices computed from the (spiking) activations
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
table = numpy_helper.from_array(np.arange(40, dtype=np.float32).reshape(10, 4), "table")
w2 = numpy_helper.from_array(np.ones((4, 3), np.float32), "w2")
nodes = [helper.make_node("MatMul", ["x", "w2"], ["h"], name="proj"),
         helper.make_node("Cast", ["h"], ["idx"], to=TensorProto.INT64, name="to_index"),
         helper.make_node("Gather", ["table", "idx"], ["y"], name="lookup")]
g = helper.make_graph(nodes, "g", [x], [y], [table, w2])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "unconvertible.onnx")

# a graph that declares no outputs
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
g = helper.make_graph([helper.make_node("Relu", ["x"], ["h"], name="act")], "g", [x], [])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "no_outputs.onnx")

# onnx_conformance's guard: a case whose op imports but is refused at run time (Range over float
# inputs: a shape computed from data) must fail the harness, not pass as a skip
import shutil as _sh
_sh.rmtree(os.path.join(here, "conformance_guard"), ignore_errors=True)
case = os.path.join(here, "conformance_guard", "test_range_runtime_bounds")
os.makedirs(os.path.join(case, "test_data_set_0"), exist_ok=True)
ins = [helper.make_tensor_value_info(nm, TensorProto.FLOAT, []) for nm in ("start", "limit", "delta")]
yo = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])
g = helper.make_graph([helper.make_node("Range", ["start", "limit", "delta"], ["y"], name="range")], "g", ins, [yo])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(case, "model.onnx"))
for k, (v, nm) in enumerate([(1.0, "start"), (5.0, "limit"), (1.5, "delta")]):
    with open(os.path.join(case, "test_data_set_0", "input_%d.pb" % k), "wb") as f:
        f.write(numpy_helper.from_array(np.array(v, np.float32), nm).SerializeToString())
with open(os.path.join(case, "test_data_set_0", "output_0.pb"), "wb") as f:
    f.write(numpy_helper.from_array(np.arange(1.0, 5.0, 1.5, dtype=np.float32), "y").SerializeToString())

# a model of constants only: it takes no input and still runs (`spikeformer run` once refused it)
yc = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])
a = numpy_helper.from_array(np.array([[1, 2], [3, 4]], np.float32), "a")
b = numpy_helper.from_array(np.array([[10, 20], [30, 40]], np.float32), "b")
g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="sum")], "g", [], [yc], [a, b])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "constants_only.onnx")

# a classifier with more than 8 outputs (eval, optimize and report once kept outputs in arrays of 8)
xi = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 28, 28])
w = numpy_helper.from_array((np.random.RandomState(0).randn(784, 10) * 0.05).astype(np.float32), "w")
shape = numpy_helper.from_array(np.array([-1, 784], np.int64), "flat_shape")
nodes = [helper.make_node("Reshape", ["x", "flat_shape"], ["flat"], name="flatten"),
         helper.make_node("MatMul", ["flat", "w"], ["logits"], name="head")]
outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)]
for k in range(11):
    nodes.append(helper.make_node("Relu", ["logits"], ["extra_%d" % k], name="extra_%d" % k))
    outs.append(helper.make_tensor_value_info("extra_%d" % k, TensorProto.FLOAT, None))
g = helper.make_graph(nodes, "g", [xi], outs, [w, shape])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "many_outputs.onnx")
