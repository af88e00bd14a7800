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
