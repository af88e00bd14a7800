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
    # signed QCFS (the ViT's neurons are signed), 3 levels, per-channel clip levels; the floor's
    # gradient straight through (floor(v) = v + (floor(v) - v).detach(), as Bu et al.'s code)
    Lq = 3

    def qcfs_signed(x, lam):
        v = x * Lq / lam + 0.5
        q = torch.clamp(v + (torch.floor(v) - v).detach(), -Lq, Lq) / Lq
        return lam * q
    lam = torch.tensor((rng.rand(C) * 0.8 + 0.6).astype(np.float32).astype(np.float64), requires_grad=True)
    xq = t(N, C, scale=1.2)
    v = (xq * Lq / lam + 0.5).detach()
    print("signed qcfs: closest floor tie %.3g" % float((v - torch.round(v)).abs().min()))
    run("qcfs_signed", qcfs_signed, {"x": xq, "lam": lam})
    run("pool_cls", lambda x: x[:, 0], {"x": t(B, S, E)})
    run("pool_mean", lambda x: x.mean(1), {"x": t(B, S, E)})
    vit()
    print("wrote", OUT)


def read_safetensors(path):
    import json
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", k
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"]).astype(np.float64)
    return out


def vit():
    """The shipped ViT (models/vit/hf) in plain PyTorch ops: its logits on the 4 sample images must
    be the transformers library's (models/vit/sample_logits.npy), then the cross-entropy's gradient
    for every parameter, flattened in vit_net's order (src/train/vit_net.c map())."""
    import json
    root = os.path.dirname(HERE)
    cfg = json.load(open(os.path.join(root, "models", "vit", "hf", "config.json")))
    w = {k: torch.tensor(v, requires_grad=True) for k, v in read_safetensors(os.path.join(root, "models", "vit", "hf", "model.safetensors")).items()}
    E, H, L, P = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["patch_size"]
    D, eps = E // H, cfg["layer_norm_eps"]
    img = torch.tensor(np.load(os.path.join(root, "models", "vit", "sample_input.npy")).astype(np.float64))
    y = torch.tensor([0, 3, 5, 9])
    B = img.shape[0]
    pre = "vit.embeddings."
    x = torch.nn.functional.conv2d(img, w[pre + "patch_embeddings.projection.weight"], w[pre + "patch_embeddings.projection.bias"], stride=P)
    x = torch.cat([w[pre + "cls_token"].expand(B, 1, E), x.flatten(2).transpose(1, 2)], 1) + w[pre + "position_embeddings"]
    S = x.shape[1]
    lin = lambda z, name: z @ w[name + ".weight"].T + w[name + ".bias"]
    for l in range(L):
        pl = "vit.encoder.layer.%d." % l
        h = torch.nn.functional.layer_norm(x, (E,), w[pl + "layernorm_before.weight"], w[pl + "layernorm_before.bias"], eps)
        q, k, v = (lin(h, pl + "attention.attention." + n).reshape(B, S, H, D).transpose(1, 2) for n in ("query", "key", "value"))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), -1)
        x = x + lin((a @ v).transpose(1, 2).reshape(B, S, E), pl + "attention.output.dense")
        h = torch.nn.functional.layer_norm(x, (E,), w[pl + "layernorm_after.weight"], w[pl + "layernorm_after.bias"], eps)
        x = x + lin(torch.nn.functional.gelu(lin(h, pl + "intermediate.dense")), pl + "output.dense")
    x = torch.nn.functional.layer_norm(x, (E,), w["vit.layernorm.weight"], w["vit.layernorm.bias"], eps)
    logits = lin(x[:, 0], "classifier")
    want = np.load(os.path.join(root, "models", "vit", "sample_logits.npy"))
    gap = float(np.abs(logits.detach().numpy() - want).max())
    print("ViT in plain PyTorch against the transformers logits: max difference %.2e" % gap)
    assert gap < 1e-4
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    g = lambda n: w[n].grad
    parts = [g(pre + "patch_embeddings.projection.weight").reshape(E, -1), g(pre + "patch_embeddings.projection.bias"), g(pre + "cls_token"),
             g(pre + "position_embeddings")]
    for l in range(L):
        pl = "vit.encoder.layer.%d." % l
        aa = pl + "attention.attention."
        parts += [g(pl + "layernorm_before.weight"), g(pl + "layernorm_before.bias"),
                  torch.cat([g(aa + n + ".weight").T for n in ("query", "key", "value")], 1), torch.cat([g(aa + n + ".bias") for n in ("query", "key", "value")]),
                  g(pl + "attention.output.dense.weight").T, g(pl + "attention.output.dense.bias"), g(pl + "layernorm_after.weight"), g(pl + "layernorm_after.bias"),
                  g(pl + "intermediate.dense.weight").T, g(pl + "intermediate.dense.bias"), g(pl + "output.dense.weight").T, g(pl + "output.dense.bias")]
    parts += [g("vit.layernorm.weight"), g("vit.layernorm.bias"), g("classifier.weight").T, g("classifier.bias")]
    flat = torch.cat([t.reshape(-1) for t in parts])
    save("vit", logits=logits, loss=loss.reshape(1), y=y.double(), grads=flat)


if __name__ == "__main__":
    main()
