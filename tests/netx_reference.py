#!/usr/bin/python3
"""Independent reference simulator for SpikeFormer's Lava-DL "netx" HDF5 exports.

It re-implements, in numpy, what a Lava user gets from

    net = lava.lib.dl.netx.hdf5.Network(net_config=FILE)
    ... run with Loihi2SimCfg(select_tag="fixed_pt") ...

for the subset of netx that SpikeFormer writes (input / flatten / dense / conv
blocks, CUBA (LIF) and SDNN (Delta / SigmaDelta / Sigma) neurons), plus
SpikeFormer's own conventions stored in the file (how a sample enters the
input neurons, which readout gives the prediction).  No Lava import: the
semantics were read from the Lava / lava-dl sources and written anew.

Where each piece of behaviour comes from (lava = lava-nc/lava, dl = lava-nc/lava-dl):

  File decoding       dl  src/lava/lib/dl/netx/utils.py      NetDict.__getitem__
                          ('type' decoded as ASCII; 'weight'/'bias' read with
                          .astype(int) (floats truncate); the rest raw)
  Network assembly    dl  src/lava/lib/dl/netx/hdf5.py       Network._create,
                          create_input / create_dense / create_conv,
                          get_neuron_params (CUBA: vth=vThMant, du=iDecay-1,
                          dv=vDecay, bias_exp=6, bias -> bias_mant; SDNN input
                          -> Delta, 'sigma_output' -> Sigma, else SigmaDelta,
                          spike_exp=6, state_exp=6, num_message_bits 16; default
                          neuron of a dense layer without 'neuron')
  Dense weights       dl  utils.py optimize_weight_bits (at load), then
                      lava src/lava/proc/dense/models.py AbstractPyDenseModelBitAcc.run_spk:
                          determine_sign_mode, clip_weights(num_bits=8),
                          truncate_weights(num_weight_bits) (lava
                          src/lava/utils/weightutils.py), accumulate
                          (binary: weights[:, s].sum(1) in int64; graded:
                          int32 dot), shift by weight_exp (left if > 0, else
                          arithmetic right shift = floor), and the ONE-STEP
                          DELAY: a_out sends the a_buff computed from the
                          previous step's input, a_buff starts at 0.  The
                          a_out channel is int32 (values wrap to int32).
  Conv                lava src/lava/proc/conv/models.py PyConvModelFixed
                          (same one-step delay; no weight clipping/shift;
                          result signed_clamp'ed to 24 bits), utils.conv /
                          conv_scipy (true 2-D convolution of the WHC input
                          with the kernel netx builds as
                          weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1):
                          together equal to PyTorch's conv2d (correlation) with
                          the stored [out, in/groups, kH, kW] kernel).
  LIF (CUBA)          lava src/lava/proc/lif/models.py AbstractPyLifModelFixed
                          + PyLifModelBitAcc (ds_offset 1, dm_offset 0, 12-bit
                          decays done as sign(x) * (|x| >> 12), a_in << 6,
                          u wraps ONCE by 2**24 when outside (-2**23, 2**23],
                          v saturates to [-(2**23-1), 2**23-1], spike if
                          v > vth << 6, v reset to 0, bias_mant stored as
                          int16, effective bias = bias_mant << bias_exp)
  Delta / SigmaDelta  lava src/lava/proc/sdn/process.py (vth and bias scaled
    / Sigma               by 1 << (spike_exp + state_exp) = 4096; act_mode
                          default RELU; cum_error False) and
                          src/lava/proc/sdn/models.py PyDeltaModelFixed,
                          PySigmaDeltaModelFixed, PySigmaModelFixed.

Which fixed-point SigmaDelta model Lava runs: lava/proc/sdn/models.py has two
models tagged 'fixed_pt' for SigmaDelta, PySigmaDeltaModelFixed (defined first)
and PySigmaDeltaModelFixedCorrected.  The compiler collects the models of a
process with ProcGroupDiGraphs._find_proc_models_in_module, which walks
module.__dict__ (definition order), and AbstractLoihiRunCfg.select (lava
src/lava/magma/core/run_configs.py, case 3b(ii), used unchanged by
Loihi2SimCfg/Loihi1SimCfg) returns the FIRST leaf model carrying select_tag.
So Loihi2SimCfg(select_tag="fixed_pt") runs PySigmaDeltaModelFixed (residue
kept, s_out = s_scaled >> state_exp), unless a user names the corrected model in
exception_proc_model_map.  That is the one implemented here.

SpikeFormer's conventions (extra datasets, ignored by netx):
  layer/0/input_scale_exp E, layer/0/input_steps "every" | "first": the sample
  x = raw.astype(float32) / float32(255) (CHW) enters the input neurons' a_in as
  round(x * 2**E) (half away from zero; the product is exact), as int32 (what a
  lava.proc.io.source.RingBuffer fixed model sends), at every step or at step 1
  only.  NOTE: netx's Input block leaves its InPort unconnected ("the input
  must be handled through neuron's bias"); the convention feeds the neuron's
  a_in directly, as a RingBuffer connected to it would, with no delay.
  layer/<last>/readout: "spikes" | "sigma" (argmax of the output payloads summed
  over T) or "voltage" (argmax of the LIF v after step T; CUBA only).

Sources read: lava b6822fbc0e85 (2025-07-28), lava-dl d825ac506eb9 (2026-05-13).

Consequences of those sources worth knowing (all reproduced here):
  * Delta / SigmaDelta spike when |delta| >= vth (the models), not > as the
    process docstrings say.  With input_steps "first", the input Delta neuron
    sees the sample at step 1 and 0 afterwards, so at step 2 it sends the
    negative of what it sent at step 1 (its a_in is an absolute activation).
  * netx scales dense weights by 2**scale_bits and sets weight_exp =
    -scale_bits, so the weight_exp right shift is exact, except where netx and
    Lava disagree on the sign mode (max == 0 > min: netx MIXED, Lava
    INHIBITORY, which clips -256 to -255 and truncates to num_weight_bits); then
    the floor of the shift shows.  Excitatory weights above 255 or inhibitory
    below -256 give scale_bits < 0, and numpy's shift by a negative count
    zeroes every weight.
  * A dense layer without 'neuron' gets netx's default (iDecay 0, vDecay 4096,
    vThMant 1 << 18 - 1 == 1 << 17: v never exceeds 2**23 - 1, so it never
    spikes).  refDelay and gradedSpike are not read by netx.
  * 'messageBits' is not decoded by NetDict (Lava would fail); honoured here
    with a warning.  A bias on a 'sigma_output' layer makes netx fail (exit 2).

Internal layout: every layer's neurons are held as one flat vector in CHW
C-order (netx WHC arrays transposed by (2, 1, 0)); this is also the neuron
index n of the trace hash, and what netx's flatten (out.transpose([2, 1, 0])
.flatten()) feeds a dense layer.

Usage:
  python3 tests/netx_reference.py FILE.net --data DIR --timesteps T
          [--limit N] [--offset K] [--trace OUT.txt] [--json] [--batch B]
Exit status 2 (with a message naming the layer and field) for files netx or
this reference cannot take.
"""

import argparse
import gzip
import json
import os
import sys
import warnings

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover - reported at load time
    h5py = None

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"

# 64-bit FNV-1a
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

# Loihi constants of AbstractPyLifModelFixed (lava/proc/lif/models.py)
LIF_DECAY_SHIFT = 12
LIF_DECAY_UNITY = 1 << LIF_DECAY_SHIFT
LIF_DS_OFFSET = 1
LIF_DM_OFFSET = 0
LIF_ACT_SHIFT = 6
LIF_VTH_SHIFT = 6
LIF_MAX_UV = 1 << 23  # 2 ** (24 - 1)

# netx constants (dl hdf5.py get_neuron_params and Network defaults)
NETX_BIAS_EXP = 6
NETX_SPIKE_EXP = 6
NETX_STATE_EXP = 6
NETX_SDNN_MSG_BITS = 16

# lava weightutils.SignMode / netx SYNAPSE_SIGN_MODE numbering
MIXED, EXCITATORY, INHIBITORY = 1, 2, 3


class NetxError(Exception):
    """A file netx (or this reference) cannot take; exit status 2."""


# --------------------------------------------------------------------------
# Weight handling: dl netx/utils.py optimize_weight_bits and
# lava utils/weightutils.py determine_sign_mode / clip_weights / truncate_weights
# --------------------------------------------------------------------------

def netx_optimize_weight_bits(weight, where="weight"):
    """lava-dl netx utils.optimize_weight_bits, step for step in numpy.

    Returns (weight as int64, num_weight_bits, weight_exponent, sign_mode)."""
    weight = np.asarray(weight)
    max_weight = np.max(weight)
    min_weight = np.min(weight)
    # netx prints these two warnings to stdout; we keep stdout clean.
    if max_weight > 254 and min_weight < 0:
        print(f"netx_reference: {where}: netx clips the weights to [-256, 254] "
              f"(max {max_weight})", file=sys.stderr)
        weight = np.clip(weight, -256, 254)
        max_weight = np.max(weight)
    if min_weight < -256 and max_weight > 0:
        print(f"netx_reference: {where}: netx clips the weights to [-256, 254] "
              f"(min {min_weight})", file=sys.stderr)
        weight = np.clip(weight, -256, 254)
        min_weight = np.min(weight)

    if max_weight < 0:
        sign_mode, is_signed = INHIBITORY, 0
    elif min_weight >= 0:
        sign_mode, is_signed = EXCITATORY, 0
    else:
        sign_mode, is_signed = MIXED, 1

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if sign_mode == MIXED:
            pos_scale = 127 / max_weight   # max_weight may be 0 -> inf, as in netx
            neg_scale = -128 / min_weight
            scale = np.min([pos_scale, neg_scale])
        elif sign_mode == INHIBITORY:
            scale = -256 / min_weight
        else:
            scale = 255 / max_weight
        scale_bits = np.floor(np.log2(scale)) + is_signed

        n = 8
        precision_found = False
        while (precision_found is False) and (n > 0):
            rounding_error = np.sum(np.abs(weight / (2 ** n) - np.round(weight / (2 ** n))))
            if rounding_error == 0:
                precision_found = True
            else:
                n -= 1
        n -= is_signed
        num_weight_bits = 8 - scale_bits - n
        weight_exponent = -scale_bits

    if not (np.isfinite(scale_bits) and np.isfinite(num_weight_bits)):
        raise NetxError(f"{where}: netx's optimize_weight_bits cannot handle this weight "
                        f"matrix (max {max_weight}, min {min_weight}: the scale is "
                        f"{scale}; Lava fails with int(inf))")
    weight = np.left_shift(weight.astype(np.int32), int(scale_bits))
    return weight.astype(np.int64), int(num_weight_bits), int(weight_exponent), sign_mode


def lava_determine_sign_mode(weights):
    """lava weightutils.determine_sign_mode (note: differs from netx's rule
    when max == 0 > min: Lava says INHIBITORY, netx said MIXED)."""
    if np.min(weights) >= 0:
        return EXCITATORY
    if np.max(weights) <= 0:
        return INHIBITORY
    return MIXED


def lava_clip_weights(weights, sign_mode, num_bits=8):
    """lava weightutils.clip_weights (learning_simulation=False), int32."""
    weights = weights.copy().astype(np.int32)
    mixed = int(sign_mode == MIXED)
    inhibitory = int(sign_mode == INHIBITORY)
    if inhibitory:
        weights = -weights
    min_wgt = (-2 ** num_bits) * mixed
    max_wgt = 2 ** num_bits - 1
    weights = np.clip(weights, min_wgt, max_wgt)
    if inhibitory:
        weights = -weights
    return weights


def lava_truncate_weights(weights, sign_mode, num_weight_bits, max_num_weight_bits=8):
    """lava weightutils.truncate_weights, int32 (numpy's shifts, also for a
    negative shift count)."""
    weights = weights.copy().astype(np.int32)
    if sign_mode == INHIBITORY:
        weights = -weights
    mixed = int(sign_mode == MIXED)
    num_truncate_bits = max_num_weight_bits - num_weight_bits + mixed
    weights = (weights >> num_truncate_bits) << num_truncate_bits
    if sign_mode == INHIBITORY:
        weights = -weights
    return weights


def dense_effective_weights(raw_weight, where="weight"):
    """The weight chain of a netx dense block as the bit-accurate Dense model
    uses it: returns (int32 [out, in] matrix, weight_exp)."""
    w, num_weight_bits, weight_exp, _netx_mode = netx_optimize_weight_bits(raw_weight, where)
    # Dense Var 'weights' is LavaPyType(np.ndarray, np.int32)
    w32 = np.zeros(w.shape, dtype=np.int32)
    w32[...] = w
    # AbstractPyDenseModelBitAcc.run_spk, first step: the process has no
    # 'sign_mode' proc param (netx does not pass it), so Lava recomputes it.
    mode = lava_determine_sign_mode(w32)
    w32 = lava_clip_weights(w32, mode, num_bits=8)
    w32 = lava_truncate_weights(w32, mode, num_weight_bits)
    return w32, int(weight_exp)


# --------------------------------------------------------------------------
# File decoding (NetDict semantics)
# --------------------------------------------------------------------------

def _decode_str(ds, where):
    value = ds[()]
    if isinstance(value, np.ndarray):
        if value.size == 0:
            raise NetxError(f"{where}: empty string dataset")
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("ascii")
        except UnicodeDecodeError:
            raise NetxError(f"{where}: not an ASCII string")
    if isinstance(value, str):
        return value
    raise NetxError(f"{where}: expected a string, found {value!r}")


def _need(group, key, where):
    if key not in group:
        raise NetxError(f"{where}: missing field '{key}'")
    obj = group[key]
    return obj


def _raw(group, key, where):
    """NetDict 'array_keys': f[key][()] unchanged."""
    obj = _need(group, key, where)
    if not isinstance(obj, h5py.Dataset):
        raise NetxError(f"{where}/{key}: expected a dataset, found a group")
    return obj[()]


def _copy_int(group, key, where):
    """NetDict 'copy_keys' (weight, bias): f[key][()].astype(int).copy()."""
    obj = _need(group, key, where)
    if not isinstance(obj, h5py.Dataset):
        raise NetxError(f"{where}/{key}: expected a dataset, found a group")
    value = obj[()]
    try:
        return np.asarray(value).astype(np.int64).copy()
    except (TypeError, ValueError):
        raise NetxError(f"{where}/{key}: not numeric")


def _scalar_int(value, where, what):
    arr = np.asarray(value)
    if arr.size != 1:
        raise NetxError(f"{where}: '{what}' must be a single value (found shape {arr.shape}); "
                        f"per-neuron values are not supported")
    if arr.dtype.kind not in "iu":
        raise NetxError(f"{where}: '{what}' must be an integer (found dtype {arr.dtype}); "
                        f"Lava's fixed-point models shift it")
    # keep the raw numpy value (netx passes it to Lava unchanged)
    return arr.reshape(-1)[0]


def _int_value(group, key, where):
    v = _raw(group, key, where)
    arr = np.asarray(v)
    if arr.size != 1 or arr.dtype.kind not in "iu":
        raise NetxError(f"{where}/{key}: expected one integer, found {arr!r}")
    return int(arr.reshape(-1)[0])


# --------------------------------------------------------------------------
# Network description
# --------------------------------------------------------------------------

class Neuron:
    """kind: 'LIF', 'Delta', 'SigmaDelta' or 'Sigma' and its fixed-point params."""

    def __init__(self, kind, n, **kw):
        self.kind = kind
        self.n = n
        self.__dict__.update(kw)


class Layer:
    def __init__(self, index, ltype, shape_whc, neuron):
        self.index = index            # netx group index (the trace's l)
        self.type = ltype             # 'input' | 'dense' | 'conv'
        self.shape = tuple(int(s) for s in shape_whc)   # netx (WHC) shape
        self.n = int(np.prod(self.shape))
        self.neuron = neuron
        self.graded_in = False        # synapse num_message_bits > 0
        # dense: w (int32 [out, in]) and wexp; conv: w (int32 [O, I, kH, kW]) ...
        self.w = None
        self.wexp = 0


class Network:
    def __init__(self, layers, readout, input_scale_exp, input_steps, path):
        self.layers = layers
        self.readout = readout
        self.input_scale_exp = input_scale_exp
        self.input_steps = input_steps
        self.path = path

    @property
    def input_layer(self):
        return self.layers[0]

    @property
    def output_layer(self):
        return self.layers[-1]


def _netx_default_neuron():
    # dl hdf5.py create_dense: "Non-leaky integrator by default"; note
    # 1 << 18 - 1 == 1 << 17 (operator precedence), as in netx.
    return {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 18 - 1,
            "refDelay": 1, "gradedSpike": False}


def _neuron_from_config(cfg, where, n, is_input, bias_whc):
    """dl hdf5.py get_neuron_params + blocks/process.py AbstractBlock._neuron
    + the Lava process constructors.  cfg: h5py group or netx's default dict.
    bias_whc: the bias_mant array already broadcast to the neuron (WHC) shape
    as int32 (AbstractBlock._neuron), or None."""
    if isinstance(cfg, dict):
        get = cfg.__getitem__
        has = cfg.__contains__
        ntype = cfg["type"]
    else:
        def get(key):
            return _raw(cfg, key, where)
        has = cfg.__contains__
        ntype = _decode_str(_need(cfg, "type", where), f"{where}/type")

    msg_bits = None
    if has("messageBits"):
        # NetDict does not decode 'messageBits' (it returns a NetDict); we honour
        # its value and say so.
        v = get("messageBits") if isinstance(cfg, dict) else _raw(cfg, "messageBits", where)
        msg_bits = int(np.asarray(v).reshape(-1)[0])
        print(f"netx_reference: {where}/messageBits = {msg_bits} honoured (netx's NetDict "
              f"would hand Lava an undecoded object here)", file=sys.stderr)

    if ntype in ("CUBA", "LOIHI"):
        for key in ("vThMant", "iDecay", "vDecay"):
            if not has(key):
                raise NetxError(f"{where}: missing field '{key}'")
        vth = _scalar_int(get("vThMant"), where, "vThMant")
        idecay = _scalar_int(get("iDecay"), where, "iDecay")
        vdecay = _scalar_int(get("vDecay"), where, "vDecay")
        du = idecay - 1                      # netx: 'du': iDecay - 1
        dv = vdecay                          # netx: 'dv': vDecay
        fu = np.int64(LIF_DECAY_UNITY - (du + LIF_DS_OFFSET))
        fv = np.int64(LIF_DECAY_UNITY - (dv + LIF_DM_OFFSET))
        # bias_mant Var is LavaPyType(np.ndarray, np.int16): stored as int16
        bias16 = np.zeros(n, dtype=np.int16)
        if bias_whc is not None:
            bias16[...] = _whc_to_flat(bias_whc)
        bias_exp = np.full(n, NETX_BIAS_EXP, dtype=np.int16)
        # AbstractPyLifModelFixed.scale_bias
        bm = bias16.copy().astype(np.int32)
        eff_bias = np.where(bias_exp >= 0, np.left_shift(bm, bias_exp),
                            np.right_shift(bm, -bias_exp))
        eff_vth = np.left_shift(vth, LIF_VTH_SHIFT)   # PyLifModelBitAcc.scale_threshold
        return Neuron("LIF", n, fu=fu, fv=fv, eff_bias=eff_bias, eff_vth=eff_vth,
                      out_bits=0 if msg_bits is None else msg_bits,
                      vth=vth, du=du, dv=dv)
    if ntype == "SDNN":
        out_bits = NETX_SDNN_MSG_BITS if msg_bits is None else msg_bits
        scale = 1 << (NETX_SPIKE_EXP + NETX_STATE_EXP)
        if is_input:
            if not has("vThMant"):
                raise NetxError(f"{where}: missing field 'vThMant'")
            vth = np.zeros(1, dtype=np.int32)
            vth[...] = _sdnn_vth(get("vThMant"), where) * scale
            return Neuron("Delta", n, vth=vth, shift=np.array([NETX_SPIKE_EXP + NETX_STATE_EXP], np.int32),
                          state_exp=np.array([NETX_STATE_EXP], np.int32), out_bits=out_bits)
        if has("sigma_output"):
            if bias_whc is not None:
                raise NetxError(f"{where}: a 'sigma_output' layer cannot have a bias (netx passes "
                                f"bias= to lava's Sigma process, which takes only shape: TypeError)")
            return Neuron("Sigma", n, out_bits=out_bits)
        if not has("vThMant"):
            raise NetxError(f"{where}: missing field 'vThMant'")
        vth = np.zeros(1, dtype=np.int32)
        vth[...] = _sdnn_vth(get("vThMant"), where) * scale
        bias = np.zeros(n, dtype=np.int32)
        if bias_whc is not None:
            # SigmaDelta.__init__: bias = bias * (1 << (spike_exp + state_exp)) on
            # the int32 bias netx passes, then the int32 Var.
            bias[...] = _whc_to_flat(bias_whc.astype(np.int32) * scale)
        return Neuron("SigmaDelta", n, vth=vth, bias=bias,
                      state_exp=np.array([NETX_STATE_EXP], np.int32), out_bits=out_bits)
    raise NetxError(f"{where}/type: neuron type '{ntype}' is not supported "
                    f"(supported: CUBA, LOIHI, SDNN)")


def _sdnn_vth(value, where):
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise NetxError(f"{where}: 'vThMant' must be a single number")
    return arr.reshape(-1)[0]


def _whc_to_flat(a):
    a = np.asarray(a)
    if a.ndim == 3:
        a = a.transpose(2, 1, 0)
    return a.reshape(-1)


def _block_bias(raw_bias, shape_whc, where):
    """blocks/process.py AbstractBlock._neuron: bias -> bias_mant (int32) of the
    neuron shape."""
    if raw_bias is None:
        return None
    shape = tuple(shape_whc)
    try:
        if len(shape) == 1:
            bias_mant = raw_bias
        elif list(raw_bias.shape) == list(shape):
            bias_mant = raw_bias
        elif raw_bias.ndim >= 1 and shape[-1] == raw_bias.shape[0]:
            bias_mant = np.zeros(shape)
            bias_mant[:, :] = raw_bias
        else:
            raise NetxError(f"{where}/bias: shape {raw_bias.shape} cannot be broadcast to the "
                            f"neuron shape {shape} (WHC)")
        out = np.zeros(shape, dtype=np.int64)
        out[...] = np.asarray(bias_mant).astype(np.int32)
    except ValueError as e:
        raise NetxError(f"{where}/bias: shape {raw_bias.shape} does not fit the neuron shape "
                        f"{shape} (WHC): {e}")
    return out.astype(np.int32)


def _expand2(value, where, what):
    """dl hdf5.py create_conv expand(): scalar -> [x, x]; array -> x[::-1]
    (stored H, W order -> X, Y).  netx's table printer needs 2 entries."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        v = int(arr)
        return v, v
    if arr.size != 2 or arr.dtype.kind not in "iu":
        raise NetxError(f"{where}/{what}: expected a scalar or two integers, found {arr!r}")
    a = arr.reshape(-1)[::-1]
    return int(a[0]), int(a[1])


def load_network(path):
    """Builds the network netx's Network._create would build (num_layers None,
    skip_layers 0, reset_interval None, input_message_bits 0, spike_exp 6,
    sparse_fc_layer False) and reads SpikeFormer's conventions."""
    if h5py is None:
        raise NetxError("h5py is not available")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise NetxError(f"{path}: cannot open as HDF5 ({e})")
    with f:
        if "layer" not in f or not isinstance(f["layer"], h5py.Group):
            raise NetxError("file: missing group 'layer'")
        lg = f["layer"]
        count = len(lg)
        if count == 0:
            raise NetxError("layer: no layers")
        for i in range(count):
            if str(i) not in lg:
                raise NetxError(f"layer: groups must be named 0..{count - 1}; layer/{i} is missing")

        layers = []
        flatten_next = False
        input_message_bits = 0
        input_scale_exp = None
        input_steps = None
        for i in range(count):
            where = f"layer/{i}"
            g = lg[str(i)]
            if not isinstance(g, h5py.Group):
                raise NetxError(f"{where}: expected a group")
            ltype = _decode_str(_need(g, "type", where), f"{where}/type")
            if ltype == "input":
                if i != 0:
                    raise NetxError(f"{where}/type: 'input' must be layer 0")
                if "neuron" not in g or not isinstance(g["neuron"], h5py.Group):
                    raise NetxError(f"{where}: missing field 'neuron' (a group; the input neurons "
                                    f"receive the sample)")
                shape = _raw(g, "shape", where)
                shape = np.asarray(shape).reshape(-1)
                if shape.size == 0 or shape.dtype.kind not in "iu" or np.any(shape <= 0):
                    raise NetxError(f"{where}/shape: expected positive integers, found {shape!r}")
                shape_whc = tuple(int(s) for s in shape[::-1])     # netx: shape[::-1]
                neuron = _neuron_from_config(g["neuron"], f"{where}/neuron", int(np.prod(shape_whc)),
                                             True, None)   # Input block: no bias to the neuron
                layer = Layer(i, "input", shape_whc, neuron)
                layer.stored_shape = tuple(int(s) for s in shape)
                layers.append(layer)
                input_message_bits = neuron.out_bits
                input_scale_exp = _int_value(g, "input_scale_exp", where)
                if "input_steps" in g:
                    input_steps = _decode_str(g["input_steps"], f"{where}/input_steps")
                else:
                    input_steps = "every" if neuron.kind == "LIF" else "first"
                    print(f"netx_reference: {where}: no 'input_steps'; using '{input_steps}' "
                          f"(SpikeFormer's convention for this neuron type)", file=sys.stderr)
                if input_steps not in ("every", "first"):
                    raise NetxError(f"{where}/input_steps: '{input_steps}' is neither 'every' nor 'first'")
            elif ltype == "flatten":
                if not layers:
                    raise NetxError(f"{where}: 'flatten' before the input layer")
                flatten_next = True
            elif ltype == "dense":
                if not layers:
                    raise NetxError(f"{where}: dense layer before the input layer")
                if "delay" in g:
                    raise NetxError(f"{where}/delay: synaptic delays (DelayDense) are not supported")
                if "weight" in g and isinstance(g["weight"], h5py.Group):
                    raise NetxError(f"{where}/weight: complex weights are not supported")
                shape_raw = np.asarray(_raw(g, "shape", where))
                n_out = int(np.prod(shape_raw))
                weight = _copy_int(g, "weight", where)
                if weight.ndim == 1:
                    if weight.size % n_out:
                        raise NetxError(f"{where}/weight: {weight.size} values do not reshape to "
                                        f"({n_out}, -1)")
                    weight = weight.reshape(n_out, -1)
                if weight.ndim != 2:
                    raise NetxError(f"{where}/weight: expected [out, in], found shape {weight.shape}")
                if weight.shape[0] != n_out:
                    raise NetxError(f"{where}/weight: {weight.shape[0]} rows but 'shape' has {n_out} neurons")
                prev = layers[-1]
                if flatten_next:
                    if len(prev.shape) != 3:
                        raise NetxError(f"{where}: 'flatten' needs a 3-D (x, y, f) layer before it; "
                                        f"layer/{prev.index} has shape {prev.shape} (netx's "
                                        f"transpose([2, 1, 0]) fails)")
                    flatten_next = False
                elif len(prev.shape) != 1:
                    raise NetxError(f"{where}: shapes do not chain: layer/{prev.index} has shape "
                                    f"{prev.shape} (WHC) and no 'flatten' layer precedes this dense layer")
                if weight.shape[1] != prev.n:
                    raise NetxError(f"{where}: shapes do not chain: weight has {weight.shape[1]} inputs, "
                                    f"layer/{prev.index} has {prev.n} neurons")
                w32, wexp = dense_effective_weights(weight, f"{where}/weight")
                bias = _block_bias(_copy_int(g, "bias", where) if "bias" in g else None,
                                   (n_out,), where)
                ncfg = g["neuron"] if "neuron" in g else _netx_default_neuron()
                if not isinstance(ncfg, (dict, h5py.Group)):
                    raise NetxError(f"{where}/neuron: expected a group")
                neuron = _neuron_from_config(ncfg, f"{where}/neuron", n_out, False, bias)
                layer = Layer(i, "dense", (n_out,), neuron)
                layer.w = w32
                layer.wexp = wexp
                layer.graded_in = input_message_bits > 0
                layers.append(layer)
                input_message_bits = neuron.out_bits
            elif ltype == "conv":
                if not layers:
                    raise NetxError(f"{where}: conv layer before the input layer")
                prev = layers[-1]
                if len(prev.shape) != 3:
                    raise NetxError(f"{where}: shapes do not chain: conv needs a 3-D (x, y, f) input, "
                                    f"layer/{prev.index} has shape {prev.shape}")
                shape = np.asarray(_raw(g, "shape", where)).reshape(-1)
                if shape.size != 3:
                    raise NetxError(f"{where}/shape: expected C, H, W, found {shape!r}")
                shape_whc = tuple(int(s) for s in shape[::-1])
                if "neuron" not in g or not isinstance(g["neuron"], h5py.Group):
                    raise NetxError(f"{where}: missing field 'neuron' (a group)")
                wraw = _copy_int(g, "weight", where)
                if wraw.ndim < 4 or any(d != 1 for d in wraw.shape[4:]):
                    raise NetxError(f"{where}/weight: expected [out, in/groups, kH, kW(, 1...)], "
                                    f"found shape {wraw.shape}")
                wraw = wraw.reshape(wraw.shape[:4])
                sx, sy = _expand2(_raw(g, "stride", where), where, "stride")
                px, py = _expand2(_raw(g, "padding", where), where, "padding")
                dx, dy = _expand2(_raw(g, "dilation", where), where, "dilation")
                groups = np.asarray(_raw(g, "groups", where))
                if groups.ndim != 0 or groups.dtype.kind not in "iu" or int(groups) < 1:
                    raise NetxError(f"{where}/groups: expected a scalar integer >= 1 (lava's Conv "
                                    f"checks np.isscalar), found {groups!r}")
                groups = int(groups)
                cin = prev.shape[2]
                cout, cin_g, kh, kw = wraw.shape
                if cin % groups or cout % groups:
                    raise NetxError(f"{where}: channels ({cin} in, {cout} out) not divisible by groups {groups}")
                if cin_g != cin // groups:
                    raise NetxError(f"{where}: shapes do not chain: weight expects {cin_g * groups} input "
                                    f"channels, layer/{prev.index} has {cin}")
                if min(sx, sy, dx, dy) < 1 or min(px, py) < 0:
                    raise NetxError(f"{where}: invalid stride/dilation/padding")
                # lava conv utils.output_shape (x = W, y = H)
                xo = int(np.floor((prev.shape[0] + 2 * px - dx * (kw - 1) - 1) / sx + 1))
                yo = int(np.floor((prev.shape[1] + 2 * py - dy * (kh - 1) - 1) / sy + 1))
                if xo < 1 or yo < 1:
                    raise NetxError(f"{where}: convolution output would be empty ({xo} x {yo})")
                if (xo, yo, cout) != shape_whc:
                    raise NetxError(f"{where}: shapes do not chain: 'shape' is {tuple(shape)} (C, H, W) "
                                    f"but the convolution gives {(cout, yo, xo)}")
                bias = _block_bias(_copy_int(g, "bias", where) if "bias" in g else None,
                                   shape_whc, where)
                n = int(np.prod(shape_whc))
                neuron = _neuron_from_config(g["neuron"], f"{where}/neuron", n, False, bias)
                layer = Layer(i, "conv", shape_whc, neuron)
                w32 = np.zeros(wraw.shape, dtype=np.int32)   # Conv Var 'weight' int32
                w32[...] = wraw
                layer.w = w32
                layer.conv = dict(sx=sx, sy=sy, px=px, py=py, dx=dx, dy=dy, groups=groups,
                                  cin=cin, hin=prev.shape[1], win=prev.shape[0],
                                  cout=cout, hout=yo, wout=xo, kh=kh, kw=kw)
                layer.graded_in = input_message_bits > 0
                layers.append(layer)
                input_message_bits = neuron.out_bits
            elif ltype in ("pool", "convT", "unpool", "average", "concat", "dense_rec", "dense_comp"):
                raise NetxError(f"{where}/type: '{ltype}' is not supported (netx: NotImplementedError "
                                f"or not produced by SpikeFormer)")
            else:
                raise NetxError(f"{where}/type: unknown layer type '{ltype}'")

        if layers[0].type != "input":
            raise NetxError("layer/0/type: the first layer must be 'input'")
        if flatten_next:
            raise NetxError(f"layer/{count - 1}: a 'flatten' layer must be followed by a dense layer")
        last = lg[str(count - 1)]
        if layers[-1].index != count - 1:
            raise NetxError(f"layer/{count - 1}: the last layer must have neurons")
        readout = _decode_str(_need(last, "readout", f"layer/{count - 1}"), f"layer/{count - 1}/readout")
        if readout not in ("spikes", "sigma", "voltage"):
            raise NetxError(f"layer/{count - 1}/readout: unknown readout '{readout}'")
        if readout == "voltage" and layers[-1].neuron.kind != "LIF":
            raise NetxError(f"layer/{count - 1}/readout: 'voltage' needs a CUBA output layer "
                            f"(found {layers[-1].neuron.kind})")
    return Network(layers, readout, input_scale_exp, input_steps, path)


# --------------------------------------------------------------------------
# Vectorised simulation (batch axis first)
# --------------------------------------------------------------------------

def _exact_matmul(s, wt, smax, wabs_rowsum_max):
    """Exact integer s @ wt (s: (B, K) ints/bools, wt: (K, N) int) as int64,
    through BLAS when every partial sum is an integer the float type holds."""
    bound = float(smax) * float(wabs_rowsum_max)
    if bound < 2.0 ** 24:
        r = s.astype(np.float32) @ wt.astype(np.float32)
    elif bound < 2.0 ** 53:
        r = s.astype(np.float64) @ wt.astype(np.float64)
    else:
        return s.astype(np.int64) @ wt.astype(np.int64)
    return np.rint(r).astype(np.int64)


class _Synapse:
    def __init__(self, layer):
        self.layer = layer
        if layer.type == "dense":
            self.wt = np.ascontiguousarray(layer.w.T)                  # (in, out)
            self.wt32 = self.wt.astype(np.float32)
            self.wt64 = self.wt.astype(np.float64)
            self.colsum = int(np.abs(layer.w.astype(np.int64)).sum(axis=1).max()) if layer.w.size else 0
        else:
            c = layer.conv
            g = c["groups"]
            cg_out = c["cout"] // g
            # per group: (cin/groups * kh * kw, cout/groups), rows in (i, ky, kx) order
            self.gw = [layer.w[k * cg_out:(k + 1) * cg_out].reshape(cg_out, -1).T.astype(np.int64)
                       for k in range(g)]
            self.colsum = int(max(np.abs(w).sum(axis=0).max() for w in self.gw))

    def accumulate(self, s):
        """One run_spk's accumulation (the value a_out sends NEXT step), as int32."""
        L = self.layer
        if L.graded_in:
            smax = int(np.abs(s.astype(np.int64)).max()) if s.size else 0
        else:
            s = s != 0                      # recv().astype(bool)
            smax = 1
        if L.type == "dense":
            acc = self._dense(s, smax)
            if L.graded_in:
                # int32 weights.dot(int32 s): exact sum cast to int32, shifted in int32
                a = acc.astype(np.int32)
                if L.wexp > 0:
                    return np.left_shift(a, L.wexp)
                return np.right_shift(a, -L.wexp)
            # weights[:, s].sum(axis=1) is int64; shifted in int64; the int32
            # a_out channel wraps it.
            if L.wexp > 0:
                a = np.left_shift(acc, L.wexp)
            else:
                a = np.right_shift(acc, -L.wexp)
            return a.astype(np.int32)
        return self._conv(s, smax)

    def _dense(self, s, smax):
        bound = float(smax) * float(self.colsum)
        if bound < 2.0 ** 24:
            r = s.astype(np.float32) @ self.wt32
        elif bound < 2.0 ** 53:
            r = s.astype(np.float64) @ self.wt64
        else:
            return s.astype(np.int64) @ self.wt.astype(np.int64)
        return np.rint(r).astype(np.int64)

    def _conv(self, s, smax):
        L = self.layer
        c = L.conv
        B = s.shape[0]
        x = s.reshape(B, c["cin"], c["hin"], c["win"])
        if c["py"] or c["px"]:
            x = np.pad(x, ((0, 0), (0, 0), (c["py"], c["py"]), (c["px"], c["px"])))
        ho, wo = c["hout"], c["wout"]
        g = c["groups"]
        cg_in = c["cin"] // g
        cg_out = c["cout"] // g
        out = np.empty((B, c["cout"], ho * wo), dtype=np.int64)
        for k in range(g):
            xs = x[:, k * cg_in:(k + 1) * cg_in]
            cols = np.empty((B, ho, wo, cg_in, c["kh"], c["kw"]), dtype=xs.dtype)
            for ky in range(c["kh"]):
                y0 = ky * c["dy"]
                for kx in range(c["kw"]):
                    x0 = kx * c["dx"]
                    patch = xs[:, :, y0:y0 + c["sy"] * (ho - 1) + 1:c["sy"],
                               x0:x0 + c["sx"] * (wo - 1) + 1:c["sx"]]
                    cols[:, :, :, :, ky, kx] = patch.transpose(0, 2, 3, 1)
            cols = cols.reshape(B * ho * wo, -1)
            r = _exact_matmul(cols, self.gw[k], smax, self.colsum)   # (B*ho*wo, cg_out)
            out[:, k * cg_out:(k + 1) * cg_out, :] = r.reshape(B, ho * wo, cg_out).transpose(0, 2, 1)
        # conv result .astype(int32), then utils.signed_clamp(x, bits=24) in int32
        a = out.reshape(B, -1).astype(np.int32)
        base = 1 << 24
        return (a + base // 2) % base - base // 2


class _NeuronState:
    def __init__(self, neuron, B):
        z = lambda: np.zeros((B, neuron.n), dtype=np.int32)   # noqa: E731
        self.kind = neuron.kind
        if neuron.kind == "LIF":
            self.u, self.v = z(), z()
        elif neuron.kind == "Delta":
            self.act, self.residue = z(), z()
        elif neuron.kind == "SigmaDelta":
            self.sigma, self.act, self.residue = z(), z(), z()
        else:
            self.sigma = z()


def _decay(x, f):
    """np.int32(sign(x*f) * (|x*f| >> 12)) with x int32, computed in int64 as
    AbstractPyLifModelFixed does; a fresh int32 array."""
    f = int(f)
    if f == 0:
        return np.zeros_like(x)
    if f == LIF_DECAY_UNITY:
        return x.copy()
    d = x.astype(np.int64) * f
    d = np.sign(d) * np.right_shift(np.abs(d), LIF_DECAY_SHIFT)
    return d.astype(np.int32)


def neuron_step(p, st, a_in):
    """One run_spk of the neuron's fixed-point Lava model on a batch.
    a_in: int32 (B, n).  Returns the spikes (bool for LIF, int32 payloads)."""
    if p.kind == "LIF":
        # AbstractPyLifModelFixed.subthr_dynamics.  The decay of x by factor f
        # is sign(x*f) * (|x*f| >> 12) in int64, cast to int32; for f == 0 it
        # is 0 and for f == 4096 it is x itself (exact shortcuts).
        dc = _decay(st.u, p.fu)
        dc += np.left_shift(a_in, LIF_ACT_SHIFT)          # int32, wraps like Lava's
        # u wraps once by 2**24 (not a modulo): the two np.where of Lava
        if dc.size and (dc.max() > LIF_MAX_UV or dc.min() <= -LIF_MAX_UV):
            wrapped = np.where(dc > LIF_MAX_UV, dc - 2 * LIF_MAX_UV, dc)
            wrapped = np.where(wrapped <= -LIF_MAX_UV, dc + 2 * LIF_MAX_UV, wrapped)
            dc = wrapped
        st.u[...] = dc
        upd = _decay(st.v, p.fv)
        upd += st.u
        upd += p.eff_bias                                  # int32 sum, as Lava's
        lim = LIF_MAX_UV - 1
        if upd.size and (upd.max() > lim or upd.min() < -lim):
            np.clip(upd, -lim, lim, out=upd)               # v saturates
        st.v[...] = upd
        # PyLifModelBitAcc.spiking_activation, reset_voltage
        s = st.v > p.eff_vth
        np.copyto(st.v, 0, where=s)
        return s
    if p.kind == "Delta":
        # PyDeltaModelFixed.run_spk (cum_error False)
        a = np.left_shift(a_in, p.shift)
        delta = a - st.act + st.residue
        s_scaled = np.where(np.abs(delta) >= p.vth, delta, 0)
        st.residue = delta - s_scaled
        st.act = a
        return np.right_shift(s_scaled, p.state_exp)
    if p.kind == "SigmaDelta":
        # PySigmaDeltaModelFixed.run_spk (act_mode RELU, cum_error False)
        st.sigma = a_in + st.sigma
        act = np.maximum(st.sigma + p.bias, 0)
        delta = act - st.act + st.residue
        s_scaled = np.where(np.abs(delta) >= p.vth, delta, 0)
        st.residue = delta - s_scaled
        st.act = act
        return np.right_shift(s_scaled, p.state_exp)
    # PySigmaModelFixed.run_spk
    st.sigma = a_in + st.sigma
    return st.sigma.copy()


def fnv1a_update_events(h, t, l, s):
    """Folds the events of layer l at step t into the per-sample hashes h
    (uint64, modified in place).  s: (B, n) spike values; events are the
    nonzero entries, in neuron order; each is the 16 bytes of int32 LE
    (t, l, n, s)."""
    nz = s != 0
    counts = nz.sum(axis=1)
    B = s.shape[0]
    K = int(counts.max()) if B else 0
    if K == 0:
        return
    rows, cols = np.nonzero(nz)                       # row-major: by sample, then neuron
    vals = s[rows, cols].astype(np.int32)
    starts = np.zeros(B, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    rank = np.arange(rows.size) - starts[rows]
    order = np.argsort(-counts, kind="stable")       # samples with most events first
    pos = np.empty(B, dtype=np.int64)
    pos[order] = np.arange(B)
    ev = np.zeros((K, B, 4), dtype="<i4")
    ev[:, :, 0] = t
    ev[:, :, 1] = l
    ev[rank, pos[rows], 2] = cols
    ev[rank, pos[rows], 3] = vals
    # bytes[k, j, b]: byte j of sample b's k-th event
    by = np.ascontiguousarray(ev.view(np.uint8).reshape(K, B, 16).transpose(0, 2, 1))
    cs = counts[order]
    active = np.searchsorted(-cs, -np.arange(K), side="left")   # #samples with count > k
    # A byte that is zero in every event of the block only multiplies by the
    # prime; runs of them fold into one multiplication by a power of it.
    nonzero_byte = by.any(axis=(0, 2))
    plan = []
    for j in range(16):
        if nonzero_byte[j]:
            plan.append([j, 1])
        elif plan:
            plan[-1][1] += 1
        else:
            plan.append([-1, 1])
    plan = [(j, np.uint64(pow(FNV_PRIME, c, 1 << 64))) for j, c in plan]
    hs = h[order]
    for k in range(K):
        m = int(active[k])
        hk = hs[:m]
        bk = by[k]
        for j, mult in plan:
            if j >= 0:
                np.bitwise_xor(hk, bk[j, :m], out=hk)
            np.multiply(hk, mult, out=hk)
    h[order] = hs


def simulate(net, x_int, T, want_hash=False):
    """Runs the network on a batch.

    x_int: (B, n_input) integers in the input layer's CHW C-order (what enters
    the input neurons' a_in).  Returns dict with 'readout' ((B, n_out) int64:
    final v for 'voltage', summed payloads for 'spikes'/'sigma') and, if
    want_hash, 'hash' ((B,) uint64)."""
    x_int = np.asarray(x_int)
    B = x_int.shape[0]
    layers = net.layers
    if x_int.shape[1] != layers[0].n:
        raise ValueError(f"input has {x_int.shape[1]} values, the input layer {layers[0].n}")
    # RingBuffer fixed model data Var is int32
    x32 = np.zeros(x_int.shape, dtype=np.int32)
    x32[...] = x_int
    zero_in = np.zeros_like(x32)
    states = [_NeuronState(L.neuron, B) for L in layers]
    syn = [None] + [_Synapse(L) for L in layers[1:]]
    # a_buff Vars start at 0
    buf = [None] + [np.zeros((B, L.n), dtype=np.int32) for L in layers[1:]]
    out_sum = np.zeros((B, layers[-1].n), dtype=np.int64)
    h = np.full(B, FNV_OFFSET, dtype=np.uint64) if want_hash else None
    with np.errstate(over="ignore"):
        for t in range(1, T + 1):
            prev_s = None
            for k, L in enumerate(layers):
                if k == 0:
                    a_in = x32 if (net.input_steps == "every" or t == 1) else zero_in
                else:
                    a_in = buf[k]                       # a_out.send(a_buff): last step's
                    buf[k] = syn[k].accumulate(prev_s)  # s_in.recv() of this step
                s = neuron_step(L.neuron, states[k], a_in)
                if want_hash:
                    fnv1a_update_events(h, t, L.index, s)
                prev_s = s
            out_sum += prev_s
    if net.readout == "voltage":
        readout = states[-1].v.astype(np.int64)
    else:
        readout = out_sum
    res = {"readout": readout}
    if want_hash:
        res["hash"] = h
    return res


# --------------------------------------------------------------------------
# Data and CLI
# --------------------------------------------------------------------------

def _open_idx(directory, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            with open(p, "rb") as fh:
                data = fh.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            return p, data
    raise NetxError(f"data: neither {stem} nor {stem}.gz in {directory}")


def _parse_idx(path, data):
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise NetxError(f"data: {path} is not an unsigned-byte IDX file")
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    off = 4 + 4 * nd
    total = int(np.prod(dims)) if dims else 0
    if len(data) < off + total:
        raise NetxError(f"data: {path} is truncated")
    return np.frombuffer(data, dtype=np.uint8, count=total, offset=off).reshape(dims)


def load_fashion_test(directory):
    images = _parse_idx(*_open_idx(directory, "t10k-images-idx3-ubyte"))
    labels = _parse_idx(*_open_idx(directory, "t10k-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise NetxError("data: image/label files do not match")
    return images, labels


def encode_input(raw_u8, E):
    """round(x * 2**E), half away from zero, x = raw.astype(float32) / float32(255).
    raw_u8: (B, C, H, W) or (B, H, W).  Returns (B, C*H*W) int64 in CHW C-order."""
    x = raw_u8.astype(np.float32) / np.float32(255.0)
    v = x.astype(np.float64) * np.ldexp(1.0, E)      # exact product of a float32 and 2**E
    r = np.sign(v) * np.floor(np.abs(v) + 0.5)
    if np.any(np.abs(r) >= 2.0 ** 62):
        raise NetxError(f"layer/0/input_scale_exp: 2**{E} overflows the input")
    return r.astype(np.int64).reshape(raw_u8.shape[0], -1)


def check_input_shape(net, sample_shape):
    L = net.input_layer
    stored = L.stored_shape
    chw = tuple(sample_shape)
    ok = (stored == chw or stored == chw[1:] and chw[0] == 1
          or (len(stored) == 1 and stored[0] == int(np.prod(chw))))
    if not ok:
        raise NetxError(f"layer/0/shape: {stored} does not match the data's sample shape {chw} (C, H, W)")


def run(net, images, labels, T, batch, want_hash, trace_fh=None, first_index=0):
    n = images.shape[0]
    correct = 0
    for b0 in range(0, n, batch):
        imgs = images[b0:b0 + batch]
        x = encode_input(imgs.reshape(imgs.shape[0], 1, imgs.shape[1], imgs.shape[2]), net.input_scale_exp)
        res = simulate(net, x, T, want_hash)
        vals = res["readout"]
        pred = np.argmax(vals, axis=1)
        correct += int(np.sum(pred == labels[b0:b0 + batch]))
        if trace_fh is not None:
            hs = res["hash"]
            lines = []
            for j in range(vals.shape[0]):
                lines.append(f"{first_index + b0 + j} {int(hs[j]):016x} " +
                             " ".join(str(int(v)) for v in vals[j]) + "\n")
            trace_fh.write("".join(lines))
    return correct


def main(argv=None):
    ap = argparse.ArgumentParser(description="Reference simulator for SpikeFormer's netx exports "
                                             "(Lava fixed_pt semantics).")
    ap.add_argument("file")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--timesteps", type=int, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--trace", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args(argv)
    try:
        if args.timesteps < 1:
            raise NetxError("--timesteps must be at least 1")
        if args.offset < 0 or (args.limit is not None and args.limit < 0) or args.batch < 1:
            raise NetxError("--offset, --limit and --batch must not be negative (batch >= 1)")
        net = load_network(args.file)
        images, labels = load_fashion_test(args.data)
        check_input_shape(net, (1,) + images.shape[1:])
        end = images.shape[0] if args.limit is None else min(images.shape[0], args.offset + args.limit)
        if args.offset > images.shape[0]:
            raise NetxError(f"--offset {args.offset} is past the {images.shape[0]} test samples")
        images = images[args.offset:end]
        labels = labels[args.offset:end].astype(np.int64)
    except NetxError as e:
        print(f"netx_reference: error: {e}", file=sys.stderr)
        return 2
    want_hash = args.trace is not None
    trace_fh = open(args.trace, "w") if want_hash else None
    try:
        correct = run(net, images, labels, args.timesteps, args.batch, want_hash, trace_fh, args.offset)
    finally:
        if trace_fh is not None:
            trace_fh.close()
    n = images.shape[0]
    if not want_hash or args.json:
        print(json.dumps({"accuracy": (correct / n) if n else 0.0, "samples": n,
                          "timesteps": args.timesteps, "readout": net.readout, "file": args.file}))
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore", RuntimeWarning)
    sys.exit(main())
