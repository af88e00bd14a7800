#!/usr/bin/python3
"""Reference gradients of the spiking ViT's BPTT (src/train/vit_snn.c, issue 18), written by PyTorch
autograd in double into tests/data/vit_snn/<case>/ for tests/test_vit_train.c.

The network is written here from its definition, not from the C code: a small random Hugging Face
ViT (config.json + model.safetensors) converted as SpikeFormer converts it, with a signed neuron
after LN1, after q, k and v, after the attention probabilities, after attention . v, after LN2,
after GELU, and after the final LayerNorm's CLS token. At step t every op between neurons reads the
running means of its input spikes (linear ops, products of spike streams and expectation-compensated
float ops all keep that form), and each neuron integrates the increment of its input's mean:
    x_t = t m_t - (t - 1) m_(t-1);  u_t = beta v_(t-1) + x_t;  k_t = clamp(floor(u_t / theta), -1, 1)
    v_t = u_t - k_t theta (reset detached from the graph, or not);  v_0 = theta / 2
    s_t = sum_(tau <= t) k_tau theta / t
The step's derivative is replaced by the surrogate g on z = (u - j theta) / theta over theta, at
the jumps j in {0, 1} (k: -1 -> 0 at u = 0 and 0 -> 1 at u = theta); the rate penalty
R sum |k| / (B T N) takes sign(j) g there (|k| falls at u = 0, rises at u = theta).
Loss: cross-entropy of the step-T logits (mean over the batch) + the rate penalty.
Each case writes: config.json, model.safetensors (the weights, Hugging Face names), img.npy,
labels.npy, theta.npy (all thresholds: per layer LN1 [E], q|k|v [3E], probs [S], attention
out [D], LN2 [E], GELU [F]; then the CLS token [E]), logits.npy, loss.npy, grads.safetensors (each
weight's gradient, the same names and layouts), dtheta.npy, margin.npy (the smallest distance of
any membrane from a jump, in thresholds: the spikes are the same in float32 when it is not tiny).
Run: /usr/bin/python3 models/make_vit_snn_fixtures.py
"""
import json
import math
import os
import struct

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "tests", "data", "vit_snn")

E, H, L, F, P, IMG, CIN, CLASSES = 16, 2, 2, 32, 7, 14, 1, 5
D = E // H
S = 1 + (IMG // P) ** 2
B, T = 3, 3
EPS = 1e-12


def surrogate(kind, k, z):
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + k * z.abs()) ** 2
    if kind == "triangle":
        return (k - k * k * z.abs()).clamp(min=0.0)
    if kind == "atan":
        return (k / 2) / (1 + (math.pi / 2 * k * z) ** 2)
    raise ValueError(kind)


class Spike(torch.autograd.Function):
    """k = clamp(floor(u / theta), -1, 1) and |k|, with surrogate derivatives"""

    @staticmethod
    def forward(ctx, u, theta, kind, slope):
        ctx.save_for_backward(u, theta)
        ctx.kind, ctx.slope = kind, slope
        k = torch.clamp(torch.floor(u / theta), -1, 1)
        return k, k.abs()

    @staticmethod
    def backward(ctx, gk, gabs):
        u, theta = ctx.saved_tensors
        du = torch.zeros_like(u)
        dth = torch.zeros_like(u)
        for j, sign in ((0, -1.0), (1, 1.0)):
            g = surrogate(ctx.kind, ctx.slope, (u - j * theta) / theta) / theta
            c = gk + sign * gabs
            du = du + c * g
            dth = dth - c * j * g
        # theta broadcasts over the leading axes: sum them away
        while dth.dim() > theta.dim():
            dth = dth.sum(0)
        return du, dth, None, None


class Neurons:
    def __init__(self, theta, beta, detach, kind, slope):
        self.theta, self.beta, self.detach, self.kind, self.slope = theta, beta, detach, kind, slope
        self.v = self.mprev = self.ssum = None
        self.count = 0
        self.margin = float("inf")

    def step(self, m, t):
        if t == 1:
            self.v = (self.theta / 2).expand_as(m)
            self.mprev = torch.zeros_like(m)
            self.ssum = torch.zeros_like(m)
        x = t * m - (t - 1) * self.mprev
        self.mprev = m
        u = self.beta * self.v + x
        k, a = Spike.apply(u, self.theta, self.kind, self.slope)
        r = u / self.theta
        self.margin = min(self.margin, float(torch.minimum(r.abs(), (r - 1).abs()).min()))
        self.v = u - ((k * self.theta).detach() if self.detach else k * self.theta)
        self.ssum = self.ssum + k * self.theta
        self.count = self.count + a.sum()
        return self.ssum / t


def t32(*shape, scale=1.0, rng=None):
    return torch.tensor((rng.randn(*shape) * scale).astype(np.float32).astype(np.float64), requires_grad=True)


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make(case, kind, slope, beta, detach, rate, seed):
    rng = np.random.RandomState(seed)
    out = os.path.join(OUT, case)
    os.makedirs(out, exist_ok=True)
    W = {}
    W["vit.embeddings.patch_embeddings.projection.weight"] = t32(E, CIN, P, P, scale=0.3, rng=rng)
    W["vit.embeddings.patch_embeddings.projection.bias"] = t32(E, scale=0.1, rng=rng)
    W["vit.embeddings.cls_token"] = t32(1, 1, E, scale=0.5, rng=rng)
    W["vit.embeddings.position_embeddings"] = t32(1, S, E, scale=0.3, rng=rng)
    for l in range(L):
        p = "vit.encoder.layer.%d." % l
        for n in ("layernorm_before", "layernorm_after"):
            W[p + n + ".weight"] = torch.tensor((1 + 0.1 * rng.randn(E)).astype(np.float32).astype(np.float64), requires_grad=True)
            W[p + n + ".bias"] = t32(E, scale=0.1, rng=rng)
        for n in ("query", "key", "value"):
            W[p + "attention.attention.%s.weight" % n] = t32(E, E, scale=0.4, rng=rng)
            W[p + "attention.attention.%s.bias" % n] = t32(E, scale=0.1, rng=rng)
        W[p + "attention.output.dense.weight"] = t32(E, E, scale=0.3, rng=rng)
        W[p + "attention.output.dense.bias"] = t32(E, scale=0.1, rng=rng)
        W[p + "intermediate.dense.weight"] = t32(F, E, scale=0.3, rng=rng)
        W[p + "intermediate.dense.bias"] = t32(F, scale=0.1, rng=rng)
        W[p + "output.dense.weight"] = t32(E, F, scale=0.2, rng=rng)
        W[p + "output.dense.bias"] = t32(E, scale=0.1, rng=rng)
    W["vit.layernorm.weight"] = torch.tensor((1 + 0.1 * rng.randn(E)).astype(np.float32).astype(np.float64), requires_grad=True)
    W["vit.layernorm.bias"] = t32(E, scale=0.1, rng=rng)
    W["classifier.weight"] = t32(CLASSES, E, scale=0.5, rng=rng)
    W["classifier.bias"] = t32(CLASSES, scale=0.1, rng=rng)
    sizes = []
    for l in range(L):
        sizes += [E, 3 * E, S, D, E, F]
    sizes.append(E)
    theta_np = (0.2 + 0.8 * rng.rand(sum(sizes))).astype(np.float32)
    theta = torch.tensor(theta_np.astype(np.float64), requires_grad=True)
    parts = list(torch.split(theta, sizes))
    img = torch.tensor(rng.rand(B, CIN, IMG, IMG).astype(np.float32).astype(np.float64))
    labels = torch.tensor(rng.randint(0, CLASSES, size=B))

    neurons = [Neurons(th, beta, detach, kind, slope) for th in parts]
    ln = torch.nn.functional.layer_norm
    x0 = torch.nn.functional.conv2d(img, W["vit.embeddings.patch_embeddings.projection.weight"], W["vit.embeddings.patch_embeddings.projection.bias"], stride=P)
    x0 = x0.flatten(2).transpose(1, 2)
    x0 = torch.cat([W["vit.embeddings.cls_token"].expand(B, 1, E), x0], 1) + W["vit.embeddings.position_embeddings"]
    logits = None
    for t in range(1, T + 1):
        x = x0
        for l in range(L):
            p = "vit.encoder.layer.%d." % l
            nr = neurons[6 * l:6 * l + 6]
            a = nr[0].step(ln(x, (E,), W[p + "layernorm_before.weight"], W[p + "layernorm_before.bias"], EPS), t)
            qkv = torch.cat([a @ W[p + "attention.attention.%s.weight" % n].T + W[p + "attention.attention.%s.bias" % n] for n in ("query", "key", "value")], -1)
            qkv = nr[1].step(qkv, t)
            q, k, v = (z.reshape(B, S, H, D).transpose(1, 2) for z in qkv.split(E, -1))
            probs = nr[2].step(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), -1), t)
            o = nr[3].step(probs @ v, t)  # [B, H, S, D]: thresholds per head channel
            o = o.transpose(1, 2).reshape(B, S, E)
            res = x + o @ W[p + "attention.output.dense.weight"].T + W[p + "attention.output.dense.bias"]
            m = nr[4].step(ln(res, (E,), W[p + "layernorm_after.weight"], W[p + "layernorm_after.bias"], EPS), t)
            h = m @ W[p + "intermediate.dense.weight"].T + W[p + "intermediate.dense.bias"]
            g = nr[5].step(torch.nn.functional.gelu(h), t)
            x = res + g @ W[p + "output.dense.weight"].T + W[p + "output.dense.bias"]
        f = neurons[-1].step(ln(x, (E,), W["vit.layernorm.weight"], W["vit.layernorm.bias"], EPS)[:, 0], t)
        if t == T:
            logits = f @ W["classifier.weight"].T + W["classifier.bias"]
    N = sum(s * 1 for s in [E * S, 3 * E * S, H * S * S, E * S, E * S, F * S] * L) + E
    spikes = sum(n.count for n in neurons)
    loss = torch.nn.functional.cross_entropy(logits, labels) + rate * spikes / (B * T * N)
    loss.backward()
    config = {"architectures": ["ViTForImageClassification"], "model_type": "vit", "hidden_size": E, "num_hidden_layers": L, "num_attention_heads": H,
              "intermediate_size": F, "patch_size": P, "image_size": IMG, "num_channels": CIN, "layer_norm_eps": EPS, "hidden_act": "gelu",
              "id2label": {str(i): "c%d" % i for i in range(CLASSES)}, "label2id": {"c%d" % i: i for i in range(CLASSES)}}
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(config, fh, indent=1)
    save_safetensors(os.path.join(out, "model.safetensors"), {k: v.detach().numpy() for k, v in W.items()})
    save_safetensors(os.path.join(out, "grads.safetensors"), {k: v.grad.numpy() for k, v in W.items()})
    np.save(os.path.join(out, "img.npy"), img.numpy().astype(np.float32))
    np.save(os.path.join(out, "labels.npy"), labels.numpy().astype(np.int32))
    np.save(os.path.join(out, "theta.npy"), theta_np)
    np.save(os.path.join(out, "dtheta.npy"), theta.grad.numpy().astype(np.float32))
    np.save(os.path.join(out, "logits.npy"), logits.detach().numpy().astype(np.float32))
    np.save(os.path.join(out, "loss.npy"), np.array([float(loss)], dtype=np.float32))
    margin = min(n.margin for n in neurons)
    np.save(os.path.join(out, "margin.npy"), np.array([margin], dtype=np.float32))
    print("%s: loss %.6f, %d spikes of %d neuron-steps, margin %.2e" % (case, float(loss), int(spikes), B * T * N, margin))


def main():
    # the default recipe's surrogate (triangle, slope 1, reset detached, IF), and a second with the
    # reset attached, a leak, fast sigmoid and the rate penalty
    make("if_triangle", "triangle", 1.0, 1.0, True, 0.0, 21)
    make("lif_fastsig_attached_rate", "fast_sigmoid", 4.0, 0.9, False, 0.5, 22)


if __name__ == "__main__":
    main()
