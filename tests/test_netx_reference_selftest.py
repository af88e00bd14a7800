"""Self-test of tests/netx_reference.py.

The vectorised simulator (batch matmuls, CHW flat vectors, fused hashing) is
checked against a deliberately plain mirror of Lava written below: one object
per Lava process, each holding its Vars with the dtypes the Lava process
builder gives them (PyProcessBuilder.build: np.ndarray Vars are created with
the LavaPyType d_type and filled by var[:] = init), in netx's WHC shapes,
exchanging int32 channel arrays (the channel dtype is the source OutPort's
d_type), receiving with np.zeros(shape, InPort d_type) + data (PyInPortVectorDense
.recv), and stepping sample by sample, process by process, exactly as the
run_spk methods of

  lava/proc/dense/models.py   AbstractPyDenseModelBitAcc
  lava/proc/conv/models.py    AbstractPyConvModel / PyConvModelFixed (+ utils.conv_scipy)
  lava/proc/lif/models.py     AbstractPyLifModelFixed / PyLifModelBitAcc
  lava/proc/sdn/models.py     PyDeltaModelFixed / PySigmaDeltaModelFixed / PySigmaModelFixed

do.  The file is decoded here a second time, as lava-dl's netx (hdf5.py
Network._create, utils.NetDict, utils.optimize_weight_bits) does, without
using the reference's loader.  The hash is recomputed byte by byte.

Run:  /usr/bin/python3 -m pytest -q tests/test_netx_reference_selftest.py
"""

import functools
import gzip
import json
import os
import struct
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netx_reference as nr  # noqa: E402

try:
    from scipy import signal as scipy_signal
except ImportError:  # pragma: no cover
    scipy_signal = None

MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------------------
# Writing netx files
# ---------------------------------------------------------------------------

def _put_str(g, key, value, vlen=False):
    if vlen:
        g[key] = value                      # variable-length str dataset
    else:
        g.create_dataset(key, data=np.bytes_(value))   # fixed-length, as SpikeFormer


def _put_neuron(g, spec):
    n = g.create_group("neuron")
    _put_str(n, "type", spec["type"])
    for k, v in spec.items():
        if k == "type":
            continue
        n[k] = v


def cuba(idecay=4096, vdecay=0, vth=10):
    return {"type": "CUBA", "iDecay": np.int64(idecay), "vDecay": np.int64(vdecay),
            "vThMant": np.int64(vth), "refDelay": np.int64(1), "gradedSpike": np.int64(0)}


def sdnn(vth=1, sigma_output=False):
    d = {"type": "SDNN", "vThMant": np.int64(vth), "iDecay": np.int64(4096),
         "vDecay": np.int64(4096), "refDelay": np.int64(1), "gradedSpike": np.int64(1)}
    if sigma_output:
        d["sigma_output"] = np.int64(1)
    return d


def write_net(path, layers, readout, vlen_type=False):
    with h5py.File(path, "w") as f:
        root = f.create_group("layer")
        for i, spec in enumerate(layers):
            g = root.create_group(str(i))
            _put_str(g, "type", spec["type"], vlen=vlen_type)
            for k, v in spec.items():
                if k in ("type", "neuron"):
                    continue
                if isinstance(v, str):
                    _put_str(g, k, v)
                else:
                    g[k] = v
            if spec.get("neuron") is not None:
                _put_neuron(g, spec["neuron"])
        _put_str(root[str(len(layers) - 1)], "readout", readout)
    return path


def inp(shape, neuron, E=0, steps="every"):
    return {"type": "input", "shape": np.array(shape, np.int64), "neuron": neuron,
            "input_scale_exp": np.int64(E), "input_steps": steps}


def dense(weight, neuron, bias=None):
    d = {"type": "dense", "shape": np.array([weight.shape[0]], np.int64),
         "weight": np.asarray(weight, np.int64), "neuron": neuron}
    if bias is not None:
        d["bias"] = np.asarray(bias, np.int64)
    return d


def conv(weight, out_chw, neuron, stride=1, padding=0, dilation=1, groups=1, bias=None):
    d = {"type": "conv", "shape": np.array(out_chw, np.int64), "weight": np.asarray(weight, np.int64),
         "stride": np.asarray(stride, np.int64), "padding": np.asarray(padding, np.int64),
         "dilation": np.asarray(dilation, np.int64), "groups": np.int64(groups), "neuron": neuron}
    if bias is not None:
        d["bias"] = np.asarray(bias, np.int64)
    return d


FLATTEN = {"type": "flatten"}


# ---------------------------------------------------------------------------
# A plain, per-process mirror of Lava
# ---------------------------------------------------------------------------

def make_var(shape, dtype, init):
    """PyProcessBuilder.build for an np.ndarray Var."""
    var = np.ndarray(shape, dtype)
    var[:] = init
    return var


def recv(shape, dtype, *channel_data):
    """PyInPortVectorDense.recv."""
    return functools.reduce(lambda acc, d: acc + d, channel_data, np.zeros(shape, dtype))


def send(data, shape):
    """A pypychannel slot: int32 (every source port here is int32)."""
    slot = np.zeros(shape, np.int32)
    slot[:] = data[:]
    return slot


def netx_optimize_weight_bits(weight):
    """lava-dl netx utils.optimize_weight_bits, as netx has it."""
    max_weight = np.max(weight)
    min_weight = np.min(weight)
    if max_weight > 254 and min_weight < 0:
        weight = np.clip(weight, -256, 254)
        max_weight = np.max(weight)
    if min_weight < -256 and max_weight > 0:
        weight = np.clip(weight, -256, 254)
        min_weight = np.min(weight)
    if max_weight < 0:
        mode, is_signed = 3, 0
    elif min_weight >= 0:
        mode, is_signed = 2, 0
    else:
        mode, is_signed = 1, 1
    with np.errstate(divide="ignore"):
        if mode == 1:
            scale = np.min([127 / max_weight, -128 / min_weight])
        elif mode == 3:
            scale = -256 / min_weight
        else:
            scale = 255 / max_weight
    scale_bits = np.floor(np.log2(scale)) + is_signed
    found, n = False, 8
    while not found and n > 0:
        if np.sum(np.abs(weight / (2 ** n) - np.round(weight / (2 ** n)))) == 0:
            found = True
        else:
            n -= 1
    n -= is_signed
    weight = np.left_shift(weight.astype(np.int32), int(scale_bits))
    return weight.astype(int), int(8 - scale_bits - n), int(-scale_bits)


def sign_mode_of(w):          # weightutils.determine_sign_mode
    if np.min(w) >= 0:
        return "exc"
    if np.max(w) <= 0:
        return "inh"
    return "mixed"


def clip_weights(w, mode, num_bits):          # weightutils.clip_weights
    w = w.copy().astype(np.int32)
    if mode == "inh":
        w = -w
    w = np.clip(w, (-2 ** num_bits) * (mode == "mixed"), 2 ** num_bits - 1)
    if mode == "inh":
        w = -w
    return w


def truncate_weights(w, mode, num_weight_bits):          # weightutils.truncate_weights
    w = w.copy().astype(np.int32)
    if mode == "inh":
        w = -w
    k = 8 - num_weight_bits + int(mode == "mixed")
    w = (w >> k) << k
    if mode == "inh":
        w = -w
    return w


class LavaDense:
    """AbstractPyDenseModelBitAcc."""

    def __init__(self, weights, weight_exp, num_weight_bits, num_message_bits):
        self.weights = make_var(weights.shape, np.int32, weights)
        self.a_buff = make_var((weights.shape[0],), np.int32, 0)
        self.num_message_bits = make_var((1,), int, num_message_bits)
        self.proc_params = {"weight_exp": weight_exp, "num_weight_bits": num_weight_bits}
        self.weights_set = False
        self.in_shape = (weights.shape[1],)
        self.out_shape = (weights.shape[0],)

    def run_spk(self, s_in_data):
        weight_exp = self.proc_params.get("weight_exp", 0)
        if not self.weights_set:
            mode = sign_mode_of(self.weights)
            self.weights = clip_weights(self.weights, mode, num_bits=8)
            self.weights = truncate_weights(self.weights, mode, self.proc_params["num_weight_bits"])
            self.weights_set = True
        out = send(self.a_buff, self.out_shape)
        if self.num_message_bits.item() > 0:
            s_in = recv(self.in_shape, bool, s_in_data)
            a_accum = self.weights.dot(s_in)
        else:
            s_in = recv(self.in_shape, bool, s_in_data).astype(bool)
            a_accum = self.weights[:, s_in].sum(axis=1)
        self.a_buff = (np.left_shift(a_accum, weight_exp) if weight_exp > 0
                       else np.right_shift(a_accum, -weight_exp))
        return out


def lava_conv_output_shape(input_shape, out_channels, kernel_size, stride, padding, dilation):
    x = np.floor((input_shape[0] + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1)
                 / stride[0] + 1).astype(int)
    y = np.floor((input_shape[1] + 2 * padding[1] - dilation[1] * (kernel_size[1] - 1) - 1)
                 / stride[1] + 1).astype(int)
    return x, y, out_channels


def lava_conv_scipy(input_, weight, kernel_size, stride, padding, dilation, groups):
    """lava/proc/conv/utils.conv_scipy (then .astype(weight.dtype) as utils.conv)."""
    output = np.zeros(lava_conv_output_shape(input_.shape, weight.shape[0], kernel_size,
                                             stride, padding, dilation))
    dilated = np.zeros([weight.shape[0], dilation[0] * (kernel_size[0] - 1) + 1,
                        dilation[1] * (kernel_size[1] - 1) + 1, weight.shape[-1]])
    dilated[:, ::dilation[0], ::dilation[1], :] = weight
    padded = np.pad(input_, ((padding[0], padding[0]), (padding[1], padding[1]), (0, 0)),
                    mode="constant")
    k_grp = output.shape[2] // groups
    c_grp = input_.shape[2] // groups
    for g in range(groups):
        for k in range(k_grp):
            for c in range(c_grp):
                temp = scipy_signal.convolve2d(padded[:, :, c + g * c_grp].astype(np.float64),
                                               dilated[k + g * k_grp, :, :, c], mode="valid")
                output[:, :, k + g * k_grp] += temp[::stride[0], ::stride[1]]
    return output.astype(weight.dtype)


class LavaConv:
    """AbstractPyConvModel + PyConvModelFixed."""

    def __init__(self, weight, input_shape, stride, padding, dilation, groups, num_message_bits):
        self.weight = make_var(weight.shape, np.int32, weight)
        self.kernel_size = weight.shape[1:3]
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups = make_var((1,), np.int8, groups)
        self.num_message_bits = make_var((1,), np.int8, num_message_bits)
        self.in_shape = tuple(input_shape)
        self.out_shape = tuple(int(v) for v in lava_conv_output_shape(
            input_shape, weight.shape[0], self.kernel_size, stride, padding, dilation))
        self.a_buf = make_var(self.out_shape, np.int32, 0)

    def run_spk(self, s_in_data):
        out = send(self.a_buf, self.out_shape)
        if self.num_message_bits.item() > 0:
            s_in = recv(self.in_shape, np.int32, s_in_data)
        else:
            s_in = recv(self.in_shape, np.int32, s_in_data).astype(bool)
        a = lava_conv_scipy(s_in, self.weight, self.kernel_size, self.stride, self.padding,
                            self.dilation, self.groups[0])
        base = 1 << 24
        self.a_buf = (a + base // 2) % base - base // 2      # utils.signed_clamp(x, 24)
        return out


class LavaLIF:
    """AbstractPyLifModelFixed + PyLifModelBitAcc (LIF process Vars)."""

    def __init__(self, shape, du, dv, vth, bias_mant, bias_exp):
        self.shape = shape
        self.u = make_var(shape, np.int32, 0)
        self.v = make_var(shape, np.int32, 0)
        self.du, self.dv, self.vth = du, dv, vth          # LavaPyType(int, ...): raw
        self.bias_mant = make_var(shape, np.int16, bias_mant)
        self.bias_exp = make_var(shape, np.int16, bias_exp)
        self.ds_offset, self.dm_offset = 1, 0
        self.max_uv_val = 2 ** 23
        self.decay_shift, self.decay_unity = 12, 2 ** 12
        self.vth_shift = self.act_shift = 6
        self.isthrscaled = False

    def run_spk(self, a_in_data_channel):
        a_in_data = recv(self.shape, np.int16, a_in_data_channel)
        bias_mant = self.bias_mant.copy().astype(np.int32)
        self.effective_bias = np.where(self.bias_exp >= 0, np.left_shift(bias_mant, self.bias_exp),
                                       np.right_shift(bias_mant, -self.bias_exp))
        if not self.isthrscaled:
            self.effective_vth = np.left_shift(self.vth, self.vth_shift)
            self.isthrscaled = True
        decayed_curr = np.int64(self.u) * (self.decay_unity - (self.du + self.ds_offset))
        decayed_curr = np.sign(decayed_curr) * np.right_shift(np.abs(decayed_curr), self.decay_shift)
        decayed_curr = np.int32(decayed_curr)
        activation_in = np.left_shift(a_in_data, self.act_shift)
        decayed_curr += activation_in
        wrapped = np.where(decayed_curr > self.max_uv_val, decayed_curr - 2 * self.max_uv_val,
                           decayed_curr)
        wrapped = np.where(wrapped <= -self.max_uv_val, decayed_curr + 2 * self.max_uv_val, wrapped)
        self.u[:] = wrapped
        decayed_volt = np.int64(self.v) * (self.decay_unity - (self.dv + self.dm_offset))
        decayed_volt = np.sign(decayed_volt) * np.right_shift(np.abs(decayed_volt), self.decay_shift)
        decayed_volt = np.int32(decayed_volt)
        updated = decayed_volt + self.u + self.effective_bias
        self.v[:] = np.clip(updated, -np.int32(self.max_uv_val) + 1, np.int32(self.max_uv_val) - 1)
        s = self.v > self.effective_vth
        self.v[s] = 0
        return send(s, self.shape)


class LavaDelta:
    """Delta process + PyDeltaModelFixed."""

    def __init__(self, shape, vth, spike_exp, state_exp):
        self.shape = shape
        self.vth = make_var((1,), np.int32, vth * (1 << (spike_exp + state_exp)))
        self.act = make_var(shape, np.int32, 0)
        self.residue = make_var(shape, np.int32, 0)
        self.spike_exp = make_var((1,), np.int32, spike_exp)
        self.state_exp = make_var((1,), np.int32, state_exp)

    def delta_dynamics(self, act_data):
        delta = act_data - self.act + self.residue
        s_out = np.where(np.abs(delta) >= self.vth, delta, 0)
        self.residue = delta - s_out
        return s_out

    def run_spk(self, channel):
        a_in_data = np.left_shift(recv(self.shape, np.int32, channel), self.spike_exp + self.state_exp)
        s_scaled = self.delta_dynamics(a_in_data)
        s_out = np.right_shift(s_scaled, self.state_exp)
        self.act = a_in_data
        return send(s_out, self.shape)


class LavaSigmaDelta(LavaDelta):
    """SigmaDelta process (act_mode RELU) + PySigmaDeltaModelFixed."""

    def __init__(self, shape, vth, bias, spike_exp, state_exp):
        super().__init__(shape, vth, spike_exp, state_exp)
        self.sigma = make_var(shape, np.int32, 0)
        self.bias = make_var(shape, np.int32, bias * (1 << (spike_exp + state_exp)))

    def run_spk(self, channel):
        a_in_data = recv(self.shape, np.int32, channel)
        self.sigma = a_in_data + self.sigma
        act = np.maximum(self.sigma + self.bias, 0)
        s_scaled = self.delta_dynamics(act)
        self.act = act
        return send(np.right_shift(s_scaled, self.state_exp), self.shape)


class LavaSigma:
    """Sigma process + PySigmaModelFixed."""

    def __init__(self, shape):
        self.shape = shape
        self.sigma = make_var(shape, np.int32, 0)

    def run_spk(self, channel):
        self.sigma = recv(self.shape, np.int32, channel) + self.sigma
        return send(self.sigma, self.shape)


def netdict_str(ds):
    v = ds[()]
    if isinstance(v, np.ndarray):
        v = v[0]
    return v.decode("ascii") if isinstance(v, bytes) else v


def block_neuron(cfg, shape, is_input, bias):
    """hdf5.py get_neuron_params + blocks/process.py AbstractBlock._neuron."""
    if isinstance(cfg, dict):
        get, has, ntype = cfg.__getitem__, cfg.__contains__, cfg["type"]
    else:
        get, has, ntype = (lambda k: cfg[k][()]), cfg.__contains__, netdict_str(cfg["type"])
    bias_mant = None
    if bias is not None:
        if len(shape) == 1 or list(bias.shape) == list(shape):
            bias_mant = bias
        else:
            bias_mant = np.zeros(shape)
            bias_mant[:, :] = bias
        bias_mant = bias_mant.astype(np.int32)
    if ntype == "CUBA":
        return LavaLIF(shape, du=get("iDecay") - 1, dv=get("vDecay"), vth=get("vThMant"),
                       bias_mant=0 if bias_mant is None else bias_mant, bias_exp=6), 0
    assert ntype == "SDNN"
    if is_input:
        return LavaDelta(shape, get("vThMant"), 6, 6), 16
    if has("sigma_output"):
        assert bias_mant is None
        return LavaSigma(shape), 16
    return LavaSigmaDelta(shape, get("vThMant"), 0 if bias_mant is None else bias_mant, 6, 6), 16


def build_lava(path):
    """hdf5.py Network._create with the defaults, on the plain mirror."""
    procs = []
    with h5py.File(path, "r") as f:
        root = f["layer"]
        in_bits, flatten_next = 0, False
        for i in range(len(root)):
            g = root[str(i)]
            t = netdict_str(g["type"])
            if t == "input":
                shape = tuple(int(s) for s in g["shape"][()][::-1])
                neuron, in_bits = block_neuron(g["neuron"], shape, True, None)
                meta = dict(E=int(g["input_scale_exp"][()]), steps=netdict_str(g["input_steps"]),
                            stored=tuple(int(s) for s in g["shape"][()]))
                procs.append(dict(index=i, shape=shape, syn=None, neuron=neuron, flatten=False))
            elif t == "flatten":
                flatten_next = True
            elif t == "dense":
                shape = (int(np.prod(g["shape"][()])),)
                w, nwb, wexp = netx_optimize_weight_bits(g["weight"][()].astype(int).copy())
                syn = LavaDense(w, wexp, nwb, in_bits)
                bias = g["bias"][()].astype(int).copy() if "bias" in g else None
                ncfg = g["neuron"] if "neuron" in g else {
                    "type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 18 - 1}
                neuron, in_bits = block_neuron(ncfg, shape, False, bias)
                procs.append(dict(index=i, shape=shape, syn=syn, neuron=neuron, flatten=flatten_next))
                flatten_next = False
            elif t == "conv":
                def expand(x):
                    return np.array([x, x]) if np.isscalar(x) else x[::-1]
                shape = tuple(int(s) for s in g["shape"][()][::-1])
                w = g["weight"][()].astype(int).copy()[:, :, ::-1, ::-1]
                w = w.reshape(w.shape[:4]).transpose((0, 3, 2, 1))
                syn = LavaConv(w, procs[-1]["shape"], expand(g["stride"][()]),
                               expand(g["padding"][()]), expand(g["dilation"][()]),
                               g["groups"][()], in_bits)
                assert syn.out_shape == shape
                bias = g["bias"][()].astype(int).copy() if "bias" in g else None
                neuron, in_bits = block_neuron(g["neuron"], shape, False, bias)
                procs.append(dict(index=i, shape=shape, syn=syn, neuron=neuron, flatten=False))
            else:
                raise AssertionError(t)
        readout = netdict_str(root[str(len(root) - 1)]["readout"])
    return procs, meta, readout


def to_chw_flat(a):
    a = np.asarray(a)
    return (a.transpose(2, 1, 0) if a.ndim == 3 else a).reshape(-1)


def lava_loop(path, x_flat, T):
    """One sample; returns (events [(t, l, n, s)], readout values)."""
    procs, meta, readout = build_lava(path)
    in_shape = procs[0]["shape"]
    data = np.asarray(x_flat).reshape(meta["stored"])
    data = data.transpose(tuple(range(data.ndim))[::-1])          # CHW -> WHC
    ring = make_var(in_shape, np.int32, data)                      # RingBuffer data Var
    events, total = [], None
    for t in range(1, T + 1):
        # RingBuffer sends; "first": only step 1 carries the sample
        ch = send(ring if (meta["steps"] == "every" or t == 1) else np.zeros(in_shape, np.int32),
                  in_shape)
        prev = None
        for p in procs:
            if p["syn"] is None:
                s = p["neuron"].run_spk(ch)
            else:
                s_in = prev.transpose([2, 1, 0]).flatten() if p["flatten"] else prev
                s = p["neuron"].run_spk(p["syn"].run_spk(s_in))
            for n, val in enumerate(to_chw_flat(s)):
                if val != 0:
                    events.append((t, p["index"], n, int(val)))
            prev = s
        flat = to_chw_flat(prev).astype(np.int64)
        total = flat if total is None else total + flat
    if readout == "voltage":
        return events, to_chw_flat(procs[-1]["neuron"].v).astype(np.int64)
    return events, total


def fnv1a(events):
    h = nr.FNV_OFFSET
    for ev in events:
        for b in struct.pack("<iiii", *ev):
            h = ((h ^ b) * nr.FNV_PRIME) & MASK64
    return h


def check_against_loop(path, X, T):
    net = nr.load_network(path)
    res = nr.simulate(net, X, T, want_hash=True)
    for b in range(X.shape[0]):
        events, vals = lava_loop(path, X[b], T)
        assert list(res["readout"][b]) == list(vals), f"sample {b}: readout"
        assert int(res["hash"][b]) == fnv1a(events), f"sample {b}: hash"
    return net, res


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

RNG = np.random.default_rng(1234)


def test_optimize_weight_bits_matches_netx_rule():
    cases = [
        np.array([[3, -5], [7, 1]]),          # mixed, small: scaled up
        np.array([[0, 120], [255, 3]]),       # excitatory
        np.array([[-1, -100], [-3, -256]]),   # inhibitory
        np.array([[0, -6], [-2, 0]]),         # max 0: netx MIXED, Lava INHIBITORY
        np.array([[300, -5], [4, 8]]),        # netx clips to 254
        np.array([[-400, 5], [4, 8]]),        # netx clips to -256
        np.array([[4, -8], [12, 16]]),        # multiples of 4: fewer bits
        np.array([[600, 2], [4, 8]]),         # excitatory above 255: netx shifts by -1
    ]
    for w in cases:
        a = nr.netx_optimize_weight_bits(w.copy())
        b = netx_optimize_weight_bits(w.copy())
        assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2], w
    # a worked example: max 20 / min -17 -> scale min(127/20, 128/17) = 6.35,
    # 2 + 1 = 3 scale bits, weights << 3, exponent -3; all odd -> n = 0 - 1
    w, nwb, wexp, mode = nr.netx_optimize_weight_bits(np.array([[20, -17], [3, 1]]))
    assert mode == nr.MIXED and wexp == -3 and nwb == 8 - 3 + 1
    assert w.tolist() == [[160, -136], [24, 8]]
    with pytest.raises(nr.NetxError):
        nr.netx_optimize_weight_bits(np.zeros((2, 2), int))


def test_dense_cuba_small(tmp_path):
    w1 = RNG.integers(-20, 21, size=(5, 6))            # netx rescales by << 3, exp -3
    w2 = RNG.integers(-90, 91, size=(3, 5))
    path = write_net(tmp_path / "a.net", [
        inp([6], cuba(4096, 0, 3)),
        dense(w1, cuba(4096, 0, 4), bias=RNG.integers(-40, 40, size=5)),
        dense(w2, cuba(1000, 300, 2), bias=[5, -7, 0]),
    ], "spikes")
    X = RNG.integers(-300, 300, size=(7, 6))
    net, res = check_against_loop(path, X, 12)
    assert net.layers[1].wexp == -3
    assert res["readout"].sum() > 0


def test_dense_negative_accumulation_and_voltage(tmp_path):
    # mostly negative weights with weight_exp < 0: the right shift floors
    w1 = RNG.integers(-120, 10, size=(6, 8))
    w2 = RNG.integers(-60, 61, size=(4, 6))
    path = write_net(tmp_path / "b.net", [
        inp([8], cuba(4096, 0, 1)),
        dense(w1, cuba(2500, 100, 1), bias=RNG.integers(-30, 30, size=6)),
        dense(w2, cuba(4096, 0, 100000), bias=[100, -3000, 7, 0]),
    ], "voltage", vlen_type=True)
    X = RNG.integers(0, 200, size=(5, 8))
    net, res = check_against_loop(path, X, 10)
    assert net.layers[1].wexp < 0
    assert (res["readout"] < 0).any()


def test_u_wraps_at_24_bits_and_v_saturates(tmp_path):
    # (a) the input layer alone, read out by its voltage: iDecay 0 (du = -1:
    # no current decay), vDecay 0, vth << 6 = 2**23 above the largest v, so it
    # never spikes; u crosses +-2**23 and wraps once by 2**24, v saturates.
    path = write_net(tmp_path / "c.net", [inp([4], cuba(0, 0, 131072))], "voltage")
    X = np.array([[40000, -30000, 70000, 3], [3000000, 12345, -70000, 0],
                  [2 ** 26, -(2 ** 26), 2 ** 24 + 7, -5]])
    net = nr.load_network(path)
    st = nr._NeuronState(net.layers[0].neuron, 3)
    x32 = np.asarray(X, np.int32)
    pos_wrap = neg_wrap = sat = False
    for _ in range(12):
        prev_u = st.u.copy()
        nr.neuron_step(net.layers[0].neuron, st, x32)
        pos_wrap |= bool(((x32 > 0) & (prev_u > 0) & (st.u < prev_u)).any())
        neg_wrap |= bool(((x32 < 0) & (prev_u < 0) & (st.u > prev_u)).any())
        sat |= bool((st.v == 2 ** 23 - 1).any() and (st.v == -(2 ** 23 - 1)).any())
    assert pos_wrap and neg_wrap and sat
    check_against_loop(path, X, 12)
    # (b) a spiking input drives a wide excitatory/inhibitory dense layer whose
    # u wraps; the bias 40000 wraps in lava's int16 bias_mant Var.
    w = np.zeros((3, 64), int)
    w[0], w[1], w[2] = 254, -256, np.arange(64) - 32
    path = write_net(tmp_path / "c2.net", [
        inp([64], cuba(4096, 0, 0)),
        dense(w, cuba(0, 0, 131072), bias=[40000, -40000, 100]),
    ], "voltage")
    X = np.stack([np.full(64, 5), np.arange(64) % 3, np.full(64, 1)])
    net, res = check_against_loop(path, X, 20)
    assert net.layers[1].neuron.eff_bias[0] == (40000 - 65536) << 6


@pytest.mark.parametrize("case", ["exc", "inh", "max0", "max0_floor", "clip", "fewbits"])
def test_weight_sign_modes(tmp_path, case):
    w = {"exc": RNG.integers(0, 256, size=(4, 5)),
         "inh": -RNG.integers(1, 200, size=(4, 5)),
         "max0": np.array([[0, -6, -2, 0, -4]] * 4),
         # max 0 > min: netx calls it MIXED, Lava's model INHIBITORY; here the
         # two differ (-1 << 8 = -256 is clipped to -255 then truncated to
         # -128), and the weight_exp = -8 shift of the sums is not exact
         "max0_floor": np.array([[0, -1, 0, -1, -1], [-1, -1, -1, -1, -1],
                                 [0, -1, 0, 0, 0], [0, 0, 0, 0, -1]]),
         "clip": RNG.integers(-300, 400, size=(4, 5)),
         "fewbits": RNG.integers(-3, 4, size=(4, 5)) * 16}[case]
    path = write_net(tmp_path / "d.net", [
        inp([5], cuba(4096, 0, 0)),
        dense(w, cuba(3000, 200, 100000), bias=RNG.integers(-20, 20, size=4)),
    ], "voltage")
    X = RNG.integers(0, 3, size=(6, 5)) * RNG.integers(0, 2, size=(6, 1))
    net, _ = check_against_loop(path, X, 7)
    if case == "max0_floor":
        assert net.layers[1].wexp == -8 and set(np.unique(net.layers[1].w)) == {0, -128}


def test_leaky_decays_of_negative_state(tmp_path):
    # sign(x) * (|x| >> 12): the decays truncate toward zero, seen on v
    path = write_net(tmp_path / "l.net", [inp([6], cuba(1234, 777, 131072))], "voltage")
    X = np.array([[-5, -77, 13, -1, 0, 999], [-3000, 2000, -1, 1, -77777, 5]])
    check_against_loop(path, X, 9)
    path = write_net(tmp_path / "l2.net", [
        inp([6], cuba(4096, 0, 0)),
        dense(RNG.integers(-90, 30, size=(3, 6)), cuba(1500, 2100, 131072), bias=[-7, 3, 0]),
    ], "voltage")
    check_against_loop(path, RNG.integers(0, 4, size=(4, 6)), 9)


def test_default_neuron_of_dense_without_neuron(tmp_path):
    w = RNG.integers(-50, 50, size=(3, 4))
    spec = dense(w, None)
    path = write_net(tmp_path / "e.net", [inp([4], cuba(4096, 0, 1)), spec], "voltage")
    check_against_loop(path, RNG.integers(0, 100, size=(3, 4)), 6)


@pytest.mark.parametrize("steps", ["first", "every"])
def test_sigma_delta(tmp_path, steps):
    w1 = RNG.integers(-100, 100, size=(6, 12))
    w2 = RNG.integers(-80, 80, size=(3, 6))
    path = write_net(tmp_path / "f.net", [
        inp([1, 3, 4], sdnn(1), E=2, steps=steps),
        FLATTEN,
        dense(w1, sdnn(2), bias=RNG.integers(-3, 4, size=6)),
        dense(w2, sdnn(sigma_output=True)),
    ], "sigma")
    X = RNG.integers(0, 300, size=(4, 12))
    net, res = check_against_loop(path, X, 8)
    assert [L.neuron.kind for L in net.layers] == ["Delta", "SigmaDelta", "Sigma"]
    assert net.layers[1].graded_in and net.layers[2].graded_in


@pytest.mark.skipif(scipy_signal is None, reason="scipy missing")
def test_conv_cuba(tmp_path):
    # input C,H,W = 2,5,6; conv to 4 channels, kernel 3x2 (kH x kW), stride
    # (H 1, W 2), padding (H 1, W 0), groups 2; channel-wise bias; flatten; dense
    wc = RNG.integers(-60, 60, size=(4, 1, 3, 2, 1))   # lava-dl's 5-D kernel
    out_h = (5 + 2 * 1 - 1 * (3 - 1) - 1) // 1 + 1
    out_w = (6 + 2 * 0 - 1 * (2 - 1) - 1) // 2 + 1
    wd = RNG.integers(-50, 50, size=(3, 4 * out_h * out_w))
    path = write_net(tmp_path / "g.net", [
        inp([2, 5, 6], cuba(4096, 0, 2)),
        conv(wc, [4, out_h, out_w], cuba(2000, 100, 3), stride=[1, 2], padding=[1, 0],
             dilation=1, groups=2, bias=[10, -5, 0, 3]),
        FLATTEN,
        dense(wd, cuba(4096, 0, 2)),
    ], "spikes")
    X = RNG.integers(0, 120, size=(3, 60))
    check_against_loop(path, X, 7)


@pytest.mark.skipif(scipy_signal is None, reason="scipy missing")
def test_conv_sdnn_dilation(tmp_path):
    wc = RNG.integers(-30, 30, size=(3, 2, 2, 2))
    out_h = (4 + 2 * 1 - 2 * (2 - 1) - 1) // 1 + 1
    out_w = (5 + 2 * 1 - 2 * (2 - 1) - 1) // 1 + 1
    wd = RNG.integers(-40, 40, size=(2, 3 * out_h * out_w))
    path = write_net(tmp_path / "h.net", [
        inp([2, 4, 5], sdnn(1), E=1, steps="every"),
        conv(wc, [3, out_h, out_w], sdnn(1), stride=1, padding=1, dilation=2, groups=1),
        FLATTEN,
        dense(wd, sdnn(1), bias=[2, -2]),
    ], "spikes")
    X = RNG.integers(0, 200, size=(3, 40))
    check_against_loop(path, X, 6)


@pytest.mark.skipif(scipy_signal is None, reason="scipy missing")
def test_conv_accumulator_clamps_to_24_bits(tmp_path):
    # graded (Delta) input with large payloads: the conv sums pass 2**23 and
    # lava's signed_clamp(x, 24) wraps them
    wc = np.array([[[[120, 127], [127, 126]]]])
    path = write_net(tmp_path / "k.net", [
        inp([1, 3, 3], sdnn(0), E=0, steps="every"),
        conv(wc, [1, 2, 2], sdnn(sigma_output=True)),
    ], "sigma")
    X = np.array([[2 ** 12] * 9, [2 ** 12 + 5, 7, 3, 2 ** 11, 9, 2 ** 12, 1, 2, 3]])
    payload = np.asarray(X * 64, np.int32)          # Delta: (x << 12) >> 6 at step 1
    img = payload.reshape(2, 3, 3).astype(np.int64)
    unclamped = np.zeros((2, 2, 2), np.int64)
    for ky in range(2):
        for kx in range(2):
            unclamped += wc[0, 0, ky, kx] * img[:, ky:ky + 2, kx:kx + 2]
    assert (np.abs(unclamped) > 2 ** 23).any()
    net = nr.load_network(path)
    clamped = nr._Synapse(net.layers[1]).accumulate(payload)
    expect = (unclamped + 2 ** 23) % 2 ** 24 - 2 ** 23
    assert np.array_equal(clamped, expect.reshape(2, -1))
    assert not np.array_equal(clamped, unclamped.reshape(2, -1))
    check_against_loop(path, X, 3)


def test_hash_fusion_matches_bytewise():
    # graded payloads with all byte patterns, uneven event counts
    s = RNG.integers(-(2 ** 31), 2 ** 31, size=(6, 40)).astype(np.int64)
    s[RNG.random(s.shape) < 0.6] = 0
    s[2] = 0
    h = np.full(6, nr.FNV_OFFSET, dtype=np.uint64)
    nr.fnv1a_update_events(h, 300, 70000, s)
    for b in range(6):
        ev = [(300, 70000, n, int(np.int32(v))) for n, v in enumerate(s[b]) if v != 0]
        assert int(h[b]) == fnv1a(ev)


def test_errors(tmp_path):
    good = [inp([4], cuba()), dense(np.ones((2, 4), int), cuba())]
    # missing weight
    bad = [dict(good[0]), {k: v for k, v in good[1].items() if k != "weight"}]
    with pytest.raises(nr.NetxError, match=r"layer/1.*weight"):
        nr.load_network(write_net(tmp_path / "e1.net", bad, "spikes"))
    # unknown type
    bad = [good[0], dict(good[1], type="pool2")]
    with pytest.raises(nr.NetxError, match=r"layer/1/type.*pool2"):
        nr.load_network(write_net(tmp_path / "e2.net", bad, "spikes"))
    # shapes do not chain
    bad = [good[0], dense(np.ones((2, 5), int), cuba())]
    with pytest.raises(nr.NetxError, match=r"layer/1.*chain"):
        nr.load_network(write_net(tmp_path / "e3.net", bad, "spikes"))
    # missing neuron field
    n = cuba()
    del n["vThMant"]
    bad = [good[0], dense(np.ones((2, 4), int), n)]
    with pytest.raises(nr.NetxError, match=r"layer/1/neuron.*vThMant"):
        nr.load_network(write_net(tmp_path / "e4.net", bad, "spikes"))
    # missing readout
    p = write_net(tmp_path / "e5.net", good, "spikes")
    with h5py.File(p, "a") as f:
        del f["layer/1/readout"]
    with pytest.raises(nr.NetxError, match=r"layer/1.*readout"):
        nr.load_network(p)
    # 3-D input straight into dense, no flatten
    bad = [inp([1, 2, 2], cuba()), dense(np.ones((2, 4), int), cuba())]
    with pytest.raises(nr.NetxError, match=r"layer/1.*flatten"):
        nr.load_network(write_net(tmp_path / "e6.net", bad, "spikes"))
    # CLI exit status 2 with the message
    r = subprocess.run([sys.executable, os.path.join(HERE, "netx_reference.py"),
                        str(tmp_path / "e2.net"), "--timesteps", "2", "--data", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "layer/1/type" in r.stderr


def _write_idx(path, arr):
    arr = np.asarray(arr, np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.tobytes())


def test_cli_trace_end_to_end(tmp_path):
    images = RNG.integers(0, 256, size=(6, 28, 28))
    images[0, :5, :5] = [0, 1, 127, 128, 255]             # includes exact .5 cases at E = 1
    labels = np.array([0, 1, 2, 1, 0, 2])
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    w1 = RNG.integers(-40, 41, size=(8, 784))
    w2 = RNG.integers(-100, 101, size=(3, 8))
    path = write_net(tmp_path / "m.net", [
        inp([1, 28, 28], cuba(4096, 0, 40), E=7),
        FLATTEN,
        dense(w1, cuba(4096, 0, 30), bias=RNG.integers(-20, 20, size=8)),
        dense(w2, cuba(4096, 0, 20)),
    ], "spikes")
    trace = tmp_path / "trace.txt"
    r = subprocess.run([sys.executable, os.path.join(HERE, "netx_reference.py"), str(path),
                        "--data", str(tmp_path), "--timesteps", "5", "--offset", "1",
                        "--limit", "4", "--trace", str(trace), "--json", "--batch", "3"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["samples"] == 4 and summary["timesteps"] == 5 and summary["readout"] == "spikes"
    lines = trace.read_text().splitlines()
    assert len(lines) == 4
    correct = 0
    for j, line in enumerate(lines):
        idx = 1 + j
        parts = line.split()
        assert int(parts[0]) == idx and len(parts[1]) == 16
        # the convention, computed independently: x = float32(raw) / float32(255),
        # round(x * 2**7) half away from zero
        x = [float(np.float32(v) / np.float32(255.0)) for v in images[idx].reshape(-1)]
        xi = [int(np.floor(v * 128 + 0.5)) for v in x]
        events, vals = lava_loop(path, np.array(xi), 5)
        assert parts[1] == f"{fnv1a(events):016x}"
        assert [int(p) for p in parts[2:]] == list(vals)
        correct += int(np.argmax(vals) == labels[idx])
    assert summary["accuracy"] == correct / 4
