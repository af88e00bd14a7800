#!/usr/bin/python3
"""The NIR tests' Python side (tests/nir_readers.sh, tests/nir_bad_input.sh), run with Debian's
/usr/bin/python3 and the reference readers in ../shared/vendor (nir 1.0.7, nirtorch, snnTorch 0.9.4)
on PYTHONPATH.

  typecheck FILE...                        nir.read(type_check=True) accepts every file
  images N DIR                             the first N test images as DIR/{img,flat,seq}.npy ([N,1,28,28], [N,784], [N,1,784]) + labels.npy
  reader FILE --timesteps T --images X --out Y [--reader snntorch|snntorch-iffix]
                                           snnTorch's import of FILE run as nir_run.py runs it; Y: the output summed over T [N, classes]
  make-snntorch DIR --images X --timesteps T
                                           networks written by snnTorch's exporter (MLP and CNN, seeded random weights), and what the
                                           snnTorch modules that wrote them output (DIR/<name>.ref.npy, summed over T)
  make-hand DIR --images-dir D --timesteps T
                                           hand-written files (h5py, no nir.write), one per node type, with the output of a reference
                                           simulation written here from NIR's equations (Euler steps of dt, reset to v_reset, strict thresholds)
  compare OURS THEIRS [--labels L] [--min-agree F] [--atol A]
                                           image by image: argmax agreement (and how close the sums are); OURS is `spikeformer run`'s
                                           output_0.npy (the mean over T), scaled by --timesteps to a sum
  corrupt GOOD.nir DIR                     bad files for the bad-input tests
"""
import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def vendor_dir():
    for p in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if p and os.path.isfile(os.path.join(p, "nir_run.py")):
            return p
    return None


def load_nir_run():
    import importlib.util
    d = vendor_dir()
    spec = importlib.util.spec_from_file_location("nir_run", os.path.join(d, "nir_run.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def cmd_typecheck(a):
    import nir
    for f in a.files:
        g = nir.read(f, type_check=True)
        print(f"{f}: nir.read ok ({len(g.nodes)} nodes: {sorted({type(n).__name__ for n in g.nodes.values()})})")


def cmd_images(a):
    x = read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))[:a.n].astype(np.float32) / 255.0
    y = read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))[:a.n].astype(np.int64)
    os.makedirs(a.dir, exist_ok=True)
    np.save(os.path.join(a.dir, "img.npy"), x.reshape(len(x), 1, 28, 28))
    np.save(os.path.join(a.dir, "flat.npy"), x.reshape(len(x), 784))
    np.save(os.path.join(a.dir, "seq.npy"), x.reshape(len(x), 1, 784))
    np.save(os.path.join(a.dir, "labels.npy"), y)


def run_net(net, x, T):
    """nir_run.py's loop: constant input at every step, the output summed over T."""
    import torch
    nr = load_nir_run()
    net.eval()
    nr.reset_states(net)
    acc, state = None, None
    with torch.no_grad():
        xt = torch.from_numpy(np.ascontiguousarray(x))
        for _ in range(T):
            out, state = net(xt, state)
            if isinstance(out, tuple):  # e.g. snn.Leaky(output=True) -> (spk, mem)
                out = out[0]
            out = out.reshape(out.shape[0], -1).double()
            acc = out if acc is None else acc + out
    return acc.numpy()


def cmd_reader(a):
    import contextlib
    import torch
    import nir
    torch.set_num_threads(1)
    nr = load_nir_run()
    g = nir.read(a.file)
    with contextlib.redirect_stdout(sys.stderr):
        net = nr.import_snntorch(g, iffix=a.reader == "snntorch-iffix")
    x = np.load(a.images)
    shape = [int(s) for s in np.asarray(g.nodes[[k for k, v in g.nodes.items() if isinstance(v, nir.Input)][0]].input_type["input"]).reshape(-1)]
    x = x.reshape(len(x), *shape)
    with contextlib.redirect_stdout(sys.stderr):
        out = run_net(net, x, a.timesteps)
    np.save(a.out, out)


def cmd_make_snntorch(a):
    """Networks snnTorch writes itself (export_to_nir + nir.write), with seeded weights that make
    them spike, and the outputs of the snnTorch modules that wrote them (reset to zero)."""
    import contextlib
    import torch
    import nir
    import snntorch as snn
    from snntorch.export_nir import export_to_nir
    torch.set_num_threads(1)
    torch.manual_seed(0)
    os.makedirs(a.dir, exist_ok=True)
    x_img = np.load(a.images)

    def leaky(n, beta):
        return snn.Leaky(beta=torch.full((n,), beta), threshold=torch.ones(n), init_hidden=True, reset_mechanism="zero", reset_delay=False)

    nets = {
        "snntorch_mlp": (torch.nn.Sequential(torch.nn.Linear(784, 128), leaky(128, 0.9), torch.nn.Linear(128, 64), leaky(64, 0.95),
                                             torch.nn.Linear(64, 10)), (784,)),
    }
    for name, (net, in_shape) in nets.items():
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.Linear):
                    m.weight.mul_(4.0)
                    m.bias.add_(0.05)
        x = x_img.reshape(len(x_img), *in_shape)
        with contextlib.redirect_stdout(sys.stderr):
            g = export_to_nir(net, torch.zeros(1, *in_shape), ignore_dims=[0])
        nir.write(os.path.join(a.dir, name + ".nir"), g)
        # what the writing modules output, run as nir_run runs a network
        for m in net.modules():
            if hasattr(m, "reset_mem"):
                m.reset_mem()
        with torch.no_grad():
            xt = torch.from_numpy(np.ascontiguousarray(x))
            acc = None
            for _ in range(a.timesteps):
                out = net(xt).reshape(len(x), -1).double()
                acc = out if acc is None else acc + out
        np.save(os.path.join(a.dir, name + ".ref.npy"), acc.numpy())
        print(f"{name}.nir: written by snnTorch's exporter ({[type(n).__name__ for n in g.nodes.values()]})")


# ---- hand-written files and the reference simulation of NIR's equations ----

def w_str(grp, key, s):
    import h5py
    grp.create_dataset(key, data=s, dtype=h5py.string_dtype())


def write_nir(path, nodes, edges, fixed_strings=False):
    """nodes: name -> (type, {field: value}) or ("NIRGraph", (nodes, edges)); plain h5py."""
    import h5py

    def put(grp, nodes, edges):
        w_str(grp, "type", "NIRGraph")
        ng = grp.create_group("nodes")
        for name, (typ, fields) in nodes.items():
            g = ng.create_group(name)
            if typ == "NIRGraph":
                put(g, *fields)
                continue
            if fixed_strings:
                g.create_dataset("type", data=np.bytes_(typ))
            else:
                w_str(g, "type", typ)
            for k, v in fields.items():
                g.create_dataset(k, data=v)
        grp.create_dataset("edges", data=np.array(edges, dtype=object), dtype=h5py.string_dtype())

    with h5py.File(path, "w") as f:
        w_str(f, "version", "1.0")
        put(f.create_group("node"), nodes, edges)


def chain(names):
    return [(names[i], names[i + 1]) for i in range(len(names) - 1)]


def simulate(nodes, order, x, T, dt):
    """NIR's equations, Euler steps of dt, float64: the output summed over T."""
    import torch
    import torch.nn.functional as F
    state = {}
    acc = 0
    for _ in range(T):
        h = torch.from_numpy(x.astype(np.float64))
        for name in order:
            typ, p = nodes[name]
            if typ == "Affine":
                h = h @ torch.from_numpy(p["weight"].astype(np.float64)).T + torch.from_numpy(p["bias"].astype(np.float64))
            elif typ == "Linear":
                h = h @ torch.from_numpy(p["weight"].astype(np.float64)).T
            elif typ == "Conv2d":
                h = F.conv2d(h, torch.from_numpy(p["weight"].astype(np.float64)), torch.from_numpy(p["bias"].astype(np.float64)),
                             stride=tuple(int(s) for s in p["stride"]), padding=tuple(int(s) for s in p["padding"]))
            elif typ == "Conv1d":
                h = F.conv1d(h, torch.from_numpy(p["weight"].astype(np.float64)), torch.from_numpy(p["bias"].astype(np.float64)),
                             stride=int(p["stride"][0]), padding=int(p["padding"][0]))
            elif typ == "Flatten":
                h = h.reshape(h.shape[0], -1)
            elif typ == "AvgPool2d":
                h = F.avg_pool2d(h, tuple(int(k) for k in p["kernel_size"]), tuple(int(s) for s in p["stride"]))
            elif typ == "SumPool2d":
                k = tuple(int(k) for k in p["kernel_size"])
                h = F.avg_pool2d(h, k, tuple(int(s) for s in p["stride"])) * (k[0] * k[1])
            elif typ == "Scale":
                h = h * torch.from_numpy(p["scale"].astype(np.float64))
            elif typ == "Threshold":
                h = (h > torch.from_numpy(p["threshold"].astype(np.float64))).double()
            elif typ in ("LIF", "IF", "CubaLIF"):
                v = state.get(name, torch.zeros_like(h))
                th = torch.from_numpy(p["v_threshold"].astype(np.float64))
                r = torch.from_numpy(p["r"].astype(np.float64))
                if typ == "IF":
                    v = v + r * dt * h
                elif typ == "LIF":
                    tau = torch.from_numpy(p["tau"].astype(np.float64))
                    v = (1 - dt / tau) * v + r * dt / tau * h
                else:
                    ts, tm = torch.from_numpy(p["tau_syn"].astype(np.float64)), torch.from_numpy(p["tau_mem"].astype(np.float64))
                    win = torch.from_numpy(p["w_in"].astype(np.float64))
                    syn = state.get(name + "/syn", torch.zeros_like(h))
                    syn = (1 - dt / ts) * syn + win * dt / ts * h
                    state[name + "/syn"] = syn
                    v = (1 - dt / tm) * v + r * dt / tm * syn
                s = (v > th).double()
                v = torch.where(s > 0, torch.zeros_like(v), v)
                state[name] = v
                h = s
        acc = acc + h.reshape(h.shape[0], -1)
    return acc.numpy()


def cmd_make_hand(a):
    rng = np.random.default_rng(1)
    dt = 1e-4
    T = a.timesteps
    os.makedirs(a.dir, exist_ok=True)
    X = {k: np.load(os.path.join(a.images_dir, k + ".npy")) for k in ("img", "flat", "seq")}

    def f32(*s, scale=1.0):
        return (rng.standard_normal(s) * scale).astype(np.float32)

    files = {}
    # Affine -> LIF (leaky, thresholds per neuron) -> Linear (no bias)
    n = {"in": ("Input", {"shape": np.array([784])}),
         "fc1": ("Affine", {"weight": f32(64, 784, scale=0.08), "bias": f32(64, scale=0.1)}),
         "lif1": ("LIF", {"tau": np.full(64, 2e-3), "r": np.full(64, 2e-3 / dt), "v_leak": np.zeros(64),
                          "v_threshold": rng.uniform(0.5, 1.5, 64), "v_reset": np.zeros(64)}),
         "fc2": ("Linear", {"weight": f32(10, 64, scale=0.5)}),
         "out": ("Output", {"shape": np.array([10])})}
    files["hand_affine_lif_linear"] = (n, ["in", "fc1", "lif1", "fc2", "out"], "flat", False)
    # Conv2d -> IF (r = 1 / dt) -> SumPool2d -> Flatten -> Affine; fixed-length type strings
    n = {"in": ("Input", {"shape": np.array([1, 28, 28])}),
         "conv": ("Conv2d", {"input_shape": np.array([28, 28]), "weight": f32(4, 1, 3, 3, scale=0.6), "stride": np.array([1, 1]),
                             "padding": np.array([1, 1]), "dilation": np.array([1, 1]), "groups": 1, "bias": f32(4, scale=0.1)}),
         "if1": ("IF", {"r": np.full((4, 28, 28), 1 / dt), "v_threshold": np.ones((4, 28, 28)), "v_reset": np.zeros((4, 28, 28))}),
         "pool": ("SumPool2d", {"kernel_size": np.array([2, 2]), "stride": np.array([2, 2]), "padding": np.array([0, 0])}),
         "flat": ("Flatten", {"start_dim": 0, "end_dim": -1, "input_type": np.array([4, 14, 14])}),
         "fc": ("Affine", {"weight": f32(10, 784, scale=0.1), "bias": f32(10, scale=0.1)}),
         "out": ("Output", {"shape": np.array([10])})}
    files["hand_conv2d_if_sumpool"] = (n, ["in", "conv", "if1", "pool", "flat", "fc", "out"], "img", True)
    # Conv2d -> LIF -> AvgPool2d -> Flatten(-3, -1) -> Affine
    n = {"in": ("Input", {"shape": np.array([1, 28, 28])}),
         "conv": ("Conv2d", {"input_shape": np.array([28, 28]), "weight": f32(4, 1, 5, 5, scale=0.4), "stride": np.array([2, 2]),
                             "padding": np.array([2, 2]), "dilation": np.array([1, 1]), "groups": 1, "bias": f32(4, scale=0.1)}),
         "lif": ("LIF", {"tau": np.full((4, 14, 14), 1e-3), "r": np.full((4, 14, 14), 1e-3 / dt), "v_leak": np.zeros((4, 14, 14)),
                         "v_threshold": np.full((4, 14, 14), 0.8), "v_reset": np.zeros((4, 14, 14))}),
         "pool": ("AvgPool2d", {"kernel_size": np.array([2, 2]), "stride": np.array([2, 2]), "padding": np.array([0, 0])}),
         "flat": ("Flatten", {"start_dim": -3, "end_dim": -1, "input_type": np.array([4, 7, 7])}),
         "fc": ("Affine", {"weight": f32(10, 196, scale=0.5), "bias": f32(10, scale=0.1)}),
         "out": ("Output", {"shape": np.array([10])})}
    files["hand_conv2d_lif_avgpool"] = (n, ["in", "conv", "lif", "pool", "flat", "fc", "out"], "img", False)
    # Affine -> Threshold -> Scale -> Affine
    n = {"in": ("Input", {"shape": np.array([784])}),
         "fc1": ("Affine", {"weight": f32(32, 784, scale=0.08), "bias": f32(32, scale=0.1)}),
         "thr": ("Threshold", {"threshold": rng.uniform(0.2, 0.8, 32)}),
         "sc": ("Scale", {"scale": rng.uniform(0.5, 2.0, 32).astype(np.float32)}),
         "fc2": ("Affine", {"weight": f32(10, 32, scale=0.5), "bias": f32(10, scale=0.1)}),
         "out": ("Output", {"shape": np.array([10])})}
    files["hand_threshold_scale"] = (n, ["in", "fc1", "thr", "sc", "fc2", "out"], "flat", False)
    # Conv1d -> CubaLIF (tau_syn = dt: no synaptic decay) -> Flatten -> Affine
    n = {"in": ("Input", {"shape": np.array([1, 784])}),
         "conv": ("Conv1d", {"input_shape": np.array([784]), "weight": f32(4, 1, 8, scale=0.5), "stride": np.array([8]),
                             "padding": np.array([0]), "dilation": np.array([1]), "groups": 1, "bias": f32(4, scale=0.1)}),
         "cuba": ("CubaLIF", {"tau_syn": np.full((4, 98), dt), "tau_mem": np.full((4, 98), 5e-3), "r": np.full((4, 98), 5e-3 / dt),
                              "v_leak": np.zeros((4, 98)), "v_threshold": np.full((4, 98), 0.7), "v_reset": np.zeros((4, 98)),
                              "w_in": np.full((4, 98), 1.5)}),
         "flat": ("Flatten", {"start_dim": 0, "end_dim": -1, "input_type": np.array([4, 98])}),
         "fc": ("Affine", {"weight": f32(10, 392, scale=0.3), "bias": f32(10, scale=0.1)}),
         "out": ("Output", {"shape": np.array([10])})}
    files["hand_conv1d_cubalif"] = (n, ["in", "conv", "cuba", "flat", "fc", "out"], "seq", False)
    for name, (nodes, order, xkey, fixed) in files.items():
        write_nir(os.path.join(a.dir, name + ".nir"), nodes, chain(order), fixed_strings=fixed)
        ref = simulate(nodes, order[1:-1], X[xkey], T, dt)
        np.save(os.path.join(a.dir, name + ".ref.npy"), ref)
        print(f"{name}.nir ({xkey} input): {' -> '.join(nodes[k][0] for k in order)}")
    # a nested graph: Affine -> [Input -> Affine -> LIF -> Output] -> Affine
    inner = {"i": ("Input", {"shape": np.array([64])}),
             "fc": ("Affine", {"weight": f32(32, 64, scale=0.3), "bias": f32(32, scale=0.1)}),
             "lif": ("LIF", {"tau": np.full(32, 1e4), "r": np.full(32, 1e8), "v_leak": np.zeros(32), "v_threshold": np.ones(32), "v_reset": np.zeros(32)}),
             "o": ("Output", {"shape": np.array([32])})}
    outer = {"in": ("Input", {"shape": np.array([784])}),
             "fc0": ("Affine", {"weight": f32(64, 784, scale=0.08), "bias": f32(64, scale=0.1)}),
             "lif0": ("LIF", {"tau": np.full(64, 1e4), "r": np.full(64, 1e8), "v_leak": np.zeros(64), "v_threshold": np.ones(64), "v_reset": np.zeros(64)}),
             "sub": ("NIRGraph", (inner, chain(["i", "fc", "lif", "o"]))),
             "fc2": ("Affine", {"weight": f32(10, 32, scale=0.5), "bias": f32(10, scale=0.1)}),
             "out": ("Output", {"shape": np.array([10])})}
    write_nir(os.path.join(a.dir, "hand_nested.nir"), outer, chain(["in", "fc0", "lif0", "sub", "fc2", "out"]))
    flat_nodes = {k: v for k, v in outer.items() if k != "sub"}
    flat_nodes.update({"sub." + k: v for k, v in inner.items()})
    ref = simulate(flat_nodes, ["fc0", "lif0", "sub.fc", "sub.lif", "fc2"], X["flat"], T, dt)
    np.save(os.path.join(a.dir, "hand_nested.ref.npy"), ref)
    print("hand_nested.nir (flat input): Input -> Affine -> LIF -> NIRGraph(Input -> Affine -> LIF -> Output) -> Affine -> Output")


def cmd_compare(a):
    ours = np.load(a.ours).astype(np.float64) * a.timesteps  # run gives the mean over T
    theirs = np.load(a.theirs).astype(np.float64)
    if ours.shape != theirs.shape:
        sys.exit(f"compare: shapes differ: ours {ours.shape}, theirs {theirs.shape}")
    po, pt = ours.argmax(1), theirs.argmax(1)
    agree = float((po == pt).mean())
    close = float((np.abs(ours - theirs) <= a.atol + 1e-4 * np.abs(theirs)).all(1).mean())
    doc = {"images": len(po), "agree": agree, "sums_close": close, "max_abs_diff": float(np.abs(ours - theirs).max())}
    if a.labels:
        y = np.load(a.labels)[:len(po)]
        doc["ours_accuracy"] = float((po == y).mean())
        doc["theirs_accuracy"] = float((pt == y).mean())
    print(json.dumps(doc))
    if agree < a.min_agree:
        sys.exit(f"compare: {a.ours} and {a.theirs} agree on {agree:.4f} of the images, below {a.min_agree}")


def cmd_corrupt(a):
    """Bad files from a good one: each breaks one thing, and the import must name it."""
    import h5py
    import shutil
    os.makedirs(a.dir, exist_ok=True)
    good = a.good
    data = open(good, "rb").read()
    open(os.path.join(a.dir, "truncated.nir"), "wb").write(data[:len(data) // 2])
    open(os.path.join(a.dir, "not_hdf5.nir"), "wb").write(b"this is not an HDF5 file\n" * 10)

    def variant(name, fn):
        p = os.path.join(a.dir, name + ".nir")
        shutil.copy(good, p)
        with h5py.File(p, "r+") as f:
            fn(f["node"])

    def nodes(g):
        return g["nodes"]

    def first(g, typ):
        for k in g["nodes"]:
            t = g["nodes"][k]["type"][()]
            if (t.decode() if isinstance(t, bytes) else t) == typ:
                return k
        raise KeyError(typ)

    def set_edges(g, edges):
        del g["edges"]
        g.create_dataset("edges", data=np.array(edges, dtype=object), dtype=h5py.string_dtype())

    def edges(g):
        return [(x.decode(), y.decode()) for x, y in g["edges"][()]]

    variant("missing_field", lambda g: nodes(g)[first(g, "Affine")].__delitem__("weight"))
    def wrong_type(g):
        k = first(g, "Affine")
        del nodes(g)[k]["type"]
        w_str(nodes(g)[k], "type", "Affline")
    variant("wrong_type", wrong_type)
    variant("unknown_edge", lambda g: set_edges(g, edges(g) + [(first(g, "Affine"), "no_such_node")]))
    def cycle(g):
        e = edges(g)
        k = first(g, "Affine")
        set_edges(g, [x for x in e if x[1] != "output"] + [(e[-1][0], k)])
    variant("cycle", cycle)
    def bad_shape(g):
        ks = [k for k in g["nodes"] if (lambda t: t.decode() if isinstance(t, bytes) else t)(g["nodes"][k]["type"][()]) == "Affine"]
        k = ks[1]
        w = g["nodes"][k]["weight"][()]
        del g["nodes"][k]["weight"]
        g["nodes"][k].create_dataset("weight", data=w[:, :-3])
    variant("shapes_do_not_chain", bad_shape)
    def graph_type(g):
        del g["type"]
        w_str(g, "type", "NIRGraf")
    variant("wrong_graph_type", graph_type)
    variant("no_edges", lambda g: g.__delitem__("edges"))
    def nan_weight(g):
        k = first(g, "Affine")
        w = g["nodes"][k]["weight"][()]
        w[0, 0] = np.nan
        del g["nodes"][k]["weight"]
        g["nodes"][k].create_dataset("weight", data=w)
    variant("nan_weight", nan_weight)
    def leak(g):
        k = first(g, "IF") if "IF" in [(lambda t: t.decode() if isinstance(t, bytes) else t)(g["nodes"][x]["type"][()]) for x in g["nodes"]] else first(g, "LIF")
        v = g["nodes"][k]["v_reset"][()]
        del g["nodes"][k]["v_reset"]
        g["nodes"][k].create_dataset("v_reset", data=v + 0.5)
    variant("reset_nonzero", leak)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sp = p.add_subparsers(dest="cmd", required=True)
    s = sp.add_parser("typecheck"); s.add_argument("files", nargs="+")
    s = sp.add_parser("images"); s.add_argument("n", type=int); s.add_argument("dir")
    s = sp.add_parser("reader"); s.add_argument("file"); s.add_argument("--timesteps", type=int, required=True)
    s.add_argument("--images", required=True); s.add_argument("--out", required=True)
    s.add_argument("--reader", default="snntorch", choices=("snntorch", "snntorch-iffix"))
    s = sp.add_parser("make-snntorch"); s.add_argument("dir"); s.add_argument("--images", required=True); s.add_argument("--timesteps", type=int, required=True)
    s = sp.add_parser("make-hand"); s.add_argument("dir"); s.add_argument("--images-dir", required=True); s.add_argument("--timesteps", type=int, required=True)
    s = sp.add_parser("compare"); s.add_argument("ours"); s.add_argument("theirs"); s.add_argument("--labels")
    s.add_argument("--min-agree", type=float, default=0.99); s.add_argument("--atol", type=float, default=1e-3); s.add_argument("--timesteps", type=int, required=True)
    s = sp.add_parser("corrupt"); s.add_argument("good"); s.add_argument("dir")
    a = p.parse_args()
    {"typecheck": cmd_typecheck, "images": cmd_images, "reader": cmd_reader, "make-snntorch": cmd_make_snntorch, "make-hand": cmd_make_hand,
     "compare": cmd_compare, "corrupt": cmd_corrupt}[a.cmd](a)


if __name__ == "__main__":
    main()
