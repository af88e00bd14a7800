"""Shared helpers for the SpikeFormer reference-model scripts.

Fashion-MNIST IDX loading, a dependency-free safetensors writer, ONNX export
and checking, evaluation and the common per-model output files.

Input convention everywhere: float32 [N,1,28,28] = pixel/255 (no
normalisation); models return raw logits [N,10].
"""
import gzip
import json
import os
import random
import struct
import time

import numpy as np
import torch

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MODELS_DIR = os.path.dirname(os.path.abspath(__file__))

CLASS_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def setup_torch(threads=1):
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


# --------------------------------------------------------------------- IDX --
def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: unsupported IDX header" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def _find(prefix):
    for suffix in (".gz", ""):
        p = os.path.join(DATA_DIR, prefix + suffix)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(os.path.join(DATA_DIR, prefix + "[.gz]"))


def load_fashion_mnist(split):
    """Return (images float32 [N,1,28,28] in [0,1], labels int64 [N])."""
    prefix = "train" if split == "train" else "t10k"
    x = _read_idx(_find(prefix + "-images-idx3-ubyte"))
    y = _read_idx(_find(prefix + "-labels-idx1-ubyte"))
    x = torch.from_numpy(x.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    y = torch.from_numpy(y.astype(np.int64))
    return x.contiguous(), y


# ------------------------------------------------------------- training ----
def random_shift(x, pad=2):
    """Random crop with zero padding (translation by up to +-pad pixels)."""
    n = x.shape[0]
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n,))
    dy = torch.randint(0, 2 * pad + 1, (n,))
    out = torch.empty_like(x)
    for sx in range(2 * pad + 1):
        for sy in range(2 * pad + 1):
            m = (dx == sx) & (dy == sy)
            if m.any():
                out[m] = xp[m, :, sy:sy + 28, sx:sx + 28]
    return out


def random_hflip(x, p=0.5):
    m = torch.rand(x.shape[0]) < p
    x = x.clone()
    x[m] = x[m].flip(-1)
    return x


def train(model, x, y, epochs, batch_size=128, lr=1e-3, weight_decay=0.05,
          warmup_steps=0, augment=None, log_prefix="", x_val=None, y_val=None):
    """AdamW + (linear warmup) cosine schedule. Returns training seconds."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = (x.shape[0] + batch_size - 1) // batch_size
    total = epochs * steps_per_epoch

    def lr_lambda(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(1, total - warmup_steps)
        return 0.5 * (1.0 + np.cos(np.pi * min(1.0, t)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    lossf = torch.nn.CrossEntropyLoss()
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(x.shape[0])
        tot_loss, tot_ok = 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb = augment(xb)
            out = model(xb)
            loss = lossf(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * xb.shape[0]
            tot_ok += (out.argmax(1) == yb).sum().item()
        msg = "%sepoch %d/%d loss %.4f train_acc %.4f (%.0fs)" % (
            log_prefix, ep + 1, epochs, tot_loss / x.shape[0],
            tot_ok / x.shape[0], time.time() - t0)
        if x_val is not None:
            acc, _ = evaluate(model, x_val, y_val)
            msg += " test_acc %.4f" % acc
        print(msg, flush=True)
    model.eval()
    return time.time() - t0


@torch.no_grad()
def predict_logits(model, x, batch_size=1000):
    model.eval()
    outs = [model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(outs).float()


@torch.no_grad()
def evaluate(model, x, y):
    logits = predict_logits(model, x)
    preds = logits.argmax(1)
    acc = (preds == y).float().mean().item()
    model.train()
    return acc, preds


def count_params(model):
    return int(sum(p.numel() for p in model.parameters()))


# ----------------------------------------------------------- safetensors ---
_ST_DTYPES = {
    torch.float32: ("F32", "<f4"),
    torch.float16: ("F16", "<f2"),
    torch.int64: ("I64", "<i8"),
    torch.int32: ("I32", "<i4"),
}


def save_safetensors(tensors, path, metadata=None):
    """Write an ordered dict name->tensor in the safetensors format.

    8-byte LE u64 header length, JSON header padded with spaces to a multiple
    of 8, then raw little-endian tensor bytes (offsets relative to data start).
    Tensors are laid out in sorted-name order, as the safetensors library does.
    """
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        code, npdt = _ST_DTYPES[t.dtype]
        b = t.numpy().astype(npdt, copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Minimal reader (used to self-check the writer)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    rev = {v[0]: v[1] for v in _ST_DTYPES.values()}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[base + b:base + e], dtype=rev[info["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


# -------------------------------------------------------------------- onnx --
def export_onnx(model, path, opset, **kwargs):
    model.eval()
    dummy = torch.zeros(2, 1, 28, 28)
    args = dict(
        input_names=["pixel_values"], output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset, do_constant_folding=True,
    )
    args.update(kwargs)
    with torch.no_grad():
        torch.onnx.export(model, dummy, path, **args)
    return check_onnx(path)


def check_onnx(path):
    """onnx.checker + return the sorted list of op types in the main graph."""
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return sorted({n.op_type for n in m.graph.node})


def onnx_ops_line(name, path):
    return "%s: %s" % (name, ", ".join(check_onnx(path)))


# ---------------------------------------------------------- output files ---
def write_reference_outputs(model, out_dir, x_test, y_test, opset,
                            train_seconds, extra=None, samples=True):
    """expected_logits.npy [256,10], expected_preds.npy [10000],
    reference.json, and (if samples) sample_input.npy/.pb + sample_logits.npy."""
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    with torch.no_grad():
        logits = predict_logits(model, x_test)
    preds = logits.argmax(1).to(torch.int64)
    correct = int((preds == y_test).sum().item())
    np.save(os.path.join(out_dir, "expected_logits.npy"),
            logits[:256].numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "expected_preds.npy"),
            preds.numpy().astype(np.int64))
    ref = {
        "test_accuracy": correct / x_test.shape[0],
        "test_correct": correct,
        "samples": int(x_test.shape[0]),
        "opset": int(opset),
        "torch_version": torch.__version__,
        "params": count_params(model),
        "train_seconds": round(float(train_seconds), 1),
    }
    if extra:
        ref.update(extra)
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    if samples:
        import onnx.numpy_helper
        sx = x_test[:4].numpy().astype(np.float32)
        np.save(os.path.join(out_dir, "sample_input.npy"), sx)
        with open(os.path.join(out_dir, "sample_input_0.pb"), "wb") as f:
            f.write(onnx.numpy_helper.from_array(sx, name="pixel_values")
                    .SerializeToString())
        np.save(os.path.join(out_dir, "sample_logits.npy"),
                logits[:4].numpy().astype(np.float32))
    return ref


def id2label():
    return {str(i): n for i, n in enumerate(CLASS_NAMES)}


def label2id():
    return {n: i for i, n in enumerate(CLASS_NAMES)}


# ------------------------------------------- tiny numpy ONNX interpreter ---
# No onnxruntime on this machine; this evaluates the exported graphs with
# numpy (torch only for erf/conv/maxpool kernels) to check that each ONNX file
# reproduces the PyTorch logits. Supports just the ops these models use.
def run_onnx_numpy(path, x):
    import onnx
    from onnx import numpy_helper
    F = torch.nn.functional
    m = onnx.load(path)
    g = m.graph
    env = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    env[g.input[0].name] = np.asarray(x, dtype=np.float32)

    def attrs(n):
        return {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}

    def tt(a):
        return torch.from_numpy(np.array(a, dtype=np.float32))

    for n in g.node:
        a = attrs(n)
        i = [env[name] if name else None for name in n.input]
        op = n.op_type
        if op == "Constant":
            r = numpy_helper.to_array(a["value"])
        elif op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide, "Pow": np.power, "Equal": np.equal}[op]
            r = f(i[0], i[1])
            if op == "Div" and np.issubdtype(i[0].dtype, np.integer):
                r = np.floor_divide(i[0], i[1])
            if op != "Equal":
                r = r.astype(i[0].dtype)
        elif op == "Sqrt":
            r = np.sqrt(i[0])
        elif op == "Tanh":
            r = np.tanh(i[0])
        elif op == "Relu":
            r = np.maximum(i[0], 0).astype(i[0].dtype)
        elif op == "Erf":
            r = torch.erf(tt(i[0])).numpy()
        elif op == "Cast":
            from onnx.mapping import TENSOR_TYPE_TO_NP_TYPE
            r = i[0].astype(TENSOR_TYPE_TO_NP_TYPE[a["to"]])
        elif op == "Shape":
            r = np.array(i[0].shape, dtype=np.int64)
        elif op == "ConstantOfShape":
            v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            r = np.full(tuple(i[0]), v.reshape(-1)[0], dtype=v.dtype)
        elif op == "Gather":
            r = np.take(i[0], i[1], axis=a.get("axis", 0))
        elif op == "Unsqueeze":
            r = i[0]
            axes = sorted(int(v) for v in (i[1] if len(i) > 1 else a["axes"]))
            for ax in axes:
                r = np.expand_dims(r, ax if ax >= 0 else ax + r.ndim + 1)
        elif op == "Squeeze":
            axes = tuple(int(v) for v in (i[1] if len(i) > 1 else a["axes"]))
            r = np.squeeze(i[0], axis=axes)
        elif op == "Concat":
            r = np.concatenate(i, axis=a["axis"])
        elif op == "Reshape":
            shape = [int(s) for s in i[1]]
            shape = [i[0].shape[k] if s == 0 else s for k, s in enumerate(shape)]
            r = i[0].reshape(shape)
        elif op == "Transpose":
            r = np.transpose(i[0], a.get("perm"))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            r = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Expand":
            shape = np.broadcast_shapes(i[0].shape, tuple(int(s) for s in i[1]))
            r = np.broadcast_to(i[0], shape).copy()
        elif op == "Where":
            r = np.where(i[0], i[1], i[2])
        elif op == "Slice":
            starts, ends = i[1], i[2]
            axes = i[3] if len(i) > 3 and i[3] is not None else range(len(starts))
            steps = i[4] if len(i) > 4 and i[4] is not None else [1] * len(starts)
            sl = [slice(None)] * i[0].ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                sl[int(ax)] = slice(int(s), int(min(e, 2**62)), int(st))
            r = i[0][tuple(sl)]
        elif op == "Split":
            ax = a.get("axis", 0)
            if len(i) > 1 and i[1] is not None:
                sizes = list(i[1])
            elif "split" in a:
                sizes = list(a["split"])
            else:
                sizes = [i[0].shape[ax] // len(n.output)] * len(n.output)
            r = np.split(i[0], np.cumsum(sizes)[:-1], axis=ax)
        elif op == "ReduceMean":
            axes = tuple(a["axes"]) if "axes" in a else (
                tuple(int(v) for v in i[1]) if len(i) > 1 else None)
            r = np.mean(i[0], axis=axes, keepdims=bool(a.get("keepdims", 1)))
        elif op == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(i[0] - i[0].max(axis=ax, keepdims=True))
            r = e / e.sum(axis=ax, keepdims=True)
        elif op == "MatMul":
            r = np.matmul(i[0], i[1])
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            r = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                r = r + a.get("beta", 1.0) * i[2]
        elif op == "LayerNormalization":
            ax = a.get("axis", -1)
            axes = tuple(range(ax if ax >= 0 else ax + i[0].ndim, i[0].ndim))
            mu = i[0].mean(axis=axes, keepdims=True)
            var = ((i[0] - mu) ** 2).mean(axis=axes, keepdims=True)
            r = (i[0] - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * i[1]
            if len(i) > 2 and i[2] is not None:
                r = r + i[2]
        elif op == "BatchNormalization":
            sh = (1, -1) + (1,) * (i[0].ndim - 2)
            r = ((i[0] - i[3].reshape(sh)) / np.sqrt(i[4].reshape(sh) + a.get("epsilon", 1e-5))
                 * i[1].reshape(sh) + i[2].reshape(sh))
        elif op == "Conv":
            assert a.get("group", 1) == 1
            pads = a.get("pads", [0, 0, 0, 0])
            assert pads[0] == pads[2] and pads[1] == pads[3]
            r = F.conv2d(tt(i[0]), tt(i[1]), tt(i[2]) if len(i) > 2 else None,
                         stride=a.get("strides", 1), padding=(pads[0], pads[1]),
                         dilation=a.get("dilations", 1)).numpy()
        elif op == "MaxPool":
            pads = a.get("pads", [0, 0, 0, 0])
            r = F.max_pool2d(tt(i[0]), a["kernel_shape"], a.get("strides"),
                             padding=(pads[0], pads[1])).numpy()
        else:
            raise NotImplementedError("numpy ONNX check: op %s" % op)
        if isinstance(r, list):
            for name, v in zip(n.output, r):
                env[name] = v
        else:
            if isinstance(r, np.ndarray) and r.dtype == np.float64:
                r = r.astype(np.float32)
            env[n.output[0]] = np.asarray(r)
    return env[g.output[0].name]


def check_onnx_matches(path, x, expected_logits, tol=1e-4):
    """Run the ONNX graph with numpy on x and compare with expected logits."""
    got = run_onnx_numpy(path, x)
    exp = np.asarray(expected_logits, dtype=np.float32)
    diff = float(np.abs(got - exp).max())
    same_argmax = bool((got.argmax(1) == exp.argmax(1)).all())
    if diff > tol or not same_argmax:
        raise AssertionError("%s: ONNX(numpy) vs torch max|diff| %.3g argmax_equal %s"
                             % (path, diff, same_argmax))
    return diff


def verify_all(root=MODELS_DIR):
    """onnx.checker + numpy re-evaluation of the models written by
    train_reference.py and make_variants.py (vit/, mlp/, variants/*/).
    Prints one 'name: ops' line per model (the list used in README.md)."""
    x_test, y_test = load_fashion_mnist("test")
    lines = []
    dirs = [os.path.join(root, "vit"), os.path.join(root, "mlp")]
    vdir = os.path.join(root, "variants")
    if os.path.isdir(vdir):
        dirs += [os.path.join(vdir, d) for d in sorted(os.listdir(vdir))]
    for dirpath in dirs:
        if not os.path.exists(os.path.join(dirpath, "model.onnx")):
            continue
        path = os.path.join(dirpath, "model.onnx")
        name = os.path.relpath(dirpath, root)
        ops = check_onnx(path)
        exp = np.load(os.path.join(dirpath, "expected_logits.npy"))
        diff = check_onnx_matches(path, x_test[:256].numpy(), exp)
        preds = np.load(os.path.join(dirpath, "expected_preds.npy"))
        with open(os.path.join(dirpath, "reference.json")) as f:
            ref = json.load(f)
        acc = float((preds == y_test.numpy()).mean())
        assert abs(acc - ref["test_accuracy"]) < 1e-9, name
        assert (preds[:256] == exp.argmax(1)).all(), name
        print("%-32s acc %.4f  onnx-vs-torch max|diff| %.2g" % (name, acc, diff))
        lines.append("%s (opset %d): %s" % (name, ref["opset"], ", ".join(ops)))
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    setup_torch(1)
    verify_all()
