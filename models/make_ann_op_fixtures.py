#!/usr/bin/python3
"""Reference forward outputs and gradients of the transformer ops' forward / backward pairs
(src/train/ann_ops.c, issue 18), written by PyTorch autograd in double into tests/data/ann_ops/ for
tests/test_ann_ops.c (llm.c's habit). Each op gets random inputs and parameters, a random upstream
gradient dout, and writes <op>_<name>.npy: its inputs, out (the forward) and d<input> (the
gradients of sum(out * dout)). Shapes are small but not degenerate (several heads, tokens, rows).
Run: /usr/bin/python3 models/make_ann_op_fixtures.py
"""
import math
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "tests", "data", "ann_ops")
rng = np.random.RandomState(11)


def t(*shape, scale=1.0):
    # float32 values held in double, so the C side (float32) starts from the very same numbers
    return torch.tensor((rng.randn(*shape) * scale).astype(np.float32).astype(np.float64), requires_grad=True)


def save(op, **arrays):
    for k, v in arrays.items():
        np.save(os.path.join(OUT, "%s_%s.npy" % (op, k)), v.detach().numpy().astype(np.float32))


def run(op, fn, inputs):
    out = fn(*inputs.values())
    dout = torch.tensor(rng.randn(*out.shape).astype(np.float32).astype(np.float64))
    (out * dout).sum().backward()
    grads = {"d" + k: v.grad for k, v in inputs.items() if v.grad is not None}
    save(op, out=out, dout=dout, **inputs, **grads)


def main():
    os.makedirs(OUT, exist_ok=True)
    N, C, OC = 6, 10, 7
    # Linear: W stored [C, OC] (the runtime's layout)
    run("linear", lambda x, W, b: x @ W + b, {"x": t(N, C), "W": t(C, OC, scale=0.4), "b": t(OC)})
    run("layernorm", lambda x, w, b: torch.nn.functional.layer_norm(x, (C,), w, b, 1e-5), {"x": t(N, C, scale=2.0), "w": t(C), "b": t(C)})
    run("gelu", lambda x: torch.nn.functional.gelu(x), {"x": t(N, C, scale=2.0)})
    run("gelu_tanh", lambda x: torch.nn.functional.gelu(x, approximate="tanh"), {"x": t(N, C, scale=2.0)})
    run("softmax", lambda x: torch.softmax(x, -1), {"x": t(N, C, scale=2.0)})
    B, S, H, D = 2, 5, 3, 4

    def attention(qkv):
        q, k, v = qkv.split(H * D, dim=-1)
        q, k, v = (z.reshape(B, S, H, D).transpose(1, 2) for z in (q, k, v))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), -1)
        return (att @ v).transpose(1, 2).reshape(B, S, H * D)
    run("attention", attention, {"qkv": t(B, S, 3 * H * D)})
    run("residual", lambda a, b: a + b, {"a": t(N, C), "b": t(N, C)})
    Cin, Hh, Ww, P, E = 2, 6, 4, 2, 5
    Np = (Hh // P) * (Ww // P)

    def patch_embed(img, W, bias, cls, pos):
        x = torch.nn.functional.conv2d(img, W, bias, stride=P).flatten(2).transpose(1, 2)  # [B, Np, E]
        return torch.cat([cls.expand(img.shape[0], 1, E), x], 1) + pos
    run("patch_embed", patch_embed, {"img": t(B, Cin, Hh, Ww), "W": t(E, Cin, P, P, scale=0.5), "bias": t(E), "cls": t(1, 1, E), "pos": t(1, 1 + Np, E)})
    run("pool_cls", lambda x: x[:, 0], {"x": t(B, S, E)})
    run("pool_mean", lambda x: x.mean(1), {"x": t(B, S, E)})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
