#!/usr/bin/python3
"""Train briefly and export models that are deliberately NOT built like the
shipped ViT, so the C importer is tested on other shapes and choices.

Writes models/variants/<name>/{model.onnx, expected_logits.npy [256,10],
expected_preds.npy [10000], reference.json}.

  vit_relu_postln_meanpool_op17  post-LN, ReLU MLP, mean pooling, no CLS,
                                 nn.MultiheadAttention, patch 4, opset 17
                                 (single LayerNormalization op)
  vit_tanhgelu_deep              6 thin pre-LN layers, tanh-GELU, CLS token,
                                 fused qkv projection (one Linear + Split),
                                 patch 7, opset 14
  cnn_bn_maxpool                 Conv-BN-ReLU-MaxPool x2 + 2 Linear, opset 13,
                                 BatchNormalization kept as a graph node

Rerun:  /usr/bin/python3 models/make_variants.py   [--only NAME]
"""
import argparse
import os
import sys

import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

VARIANTS_DIR = os.path.join(common.MODELS_DIR, "variants")


# --------------------------------------------- variant 1: post-LN, meanpool --
class PostLNBlock(nn.Module):
    def __init__(self, d, heads, inter):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, dropout=0.0, bias=True,
                                          batch_first=True)
        self.norm1 = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, inter)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(inter, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-5)

    def forward(self, x):
        a, _ = self.attn(x, x, x, need_weights=False)
        x = self.norm1(x + a)
        x = self.norm2(x + self.fc2(self.act(self.fc1(x))))
        return x


class ViTPostLNMeanPool(nn.Module):
    def __init__(self, d=48, layers=3, heads=3, inter=96, patch=4):
        super().__init__()
        n = (28 // patch) ** 2
        self.patch = nn.Conv2d(1, d, kernel_size=patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, n, d))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList([PostLNBlock(d, heads, inter)
                                     for _ in range(layers)])
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.head(x.mean(dim=1))


# ------------------------------------ variant 2: deep thin tanh-GELU pre-LN --
class FusedQKVAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.hd = d // heads
        self.scale = self.hd ** -0.5
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.hd)
        qkv = qkv.permute(2, 0, 3, 1, 4)          # 3, B, H, N, hd
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(x)


class PreLNTanhBlock(nn.Module):
    def __init__(self, d, heads, inter):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = FusedQKVAttention(d, heads)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(d, inter),
                                 nn.GELU(approximate="tanh"),
                                 nn.Linear(inter, d))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class ViTTanhGeluDeep(nn.Module):
    def __init__(self, d=32, layers=6, heads=2, inter=64, patch=7):
        super().__init__()
        n = (28 // patch) ** 2
        self.patch = nn.Conv2d(1, d, kernel_size=patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, n + 1, d))
        nn.init.trunc_normal_(self.cls, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(*[PreLNTanhBlock(d, heads, inter)
                                      for _ in range(layers)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


# ------------------------------------------------- variant 3: CNN with BN ---
class CNNBNMaxPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
            nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def aug(x):
    return common.random_shift(common.random_hflip(x), pad=2)


# name -> (constructor, seed, epochs, lr, opset, augment, export kwargs)
VARIANTS = {
    "vit_relu_postln_meanpool_op17": dict(
        make=ViTPostLNMeanPool, seed=17, epochs=4, lr=2e-3, opset=17,
        augment=None, export={}),
    "vit_tanhgelu_deep": dict(
        make=ViTTanhGeluDeep, seed=14, epochs=5, lr=3e-3, opset=14,
        augment=None, export={}),
    "cnn_bn_maxpool": dict(
        make=CNNBNMaxPool, seed=13, epochs=3, lr=2e-3, opset=13,
        augment=None,
        # Keep BatchNormalization as a node: no constant folding and no
        # eval-mode Conv+BN fusion (the model itself is in eval mode, so the
        # exported BN uses running statistics).
        export=dict(do_constant_folding=False,
                    training=torch.onnx.TrainingMode.PRESERVE)),
}


def run_variant(name, spec, x_train, y_train, x_test, y_test, epochs=None):
    common.seed_everything(spec["seed"])
    model = spec["make"]()
    ep = epochs or spec["epochs"]
    steps = ep * ((x_train.shape[0] + 127) // 128)
    secs = common.train(model, x_train, y_train, ep, batch_size=128,
                        lr=spec["lr"], weight_decay=0.05,
                        warmup_steps=min(300, steps // 10),
                        augment=spec["augment"], log_prefix=name + " ")
    model.eval()
    out_dir = os.path.join(VARIANTS_DIR, name)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(model.state_dict(), "/tmp/spikeformer_variant_%s.pt" % name)
    path = os.path.join(out_dir, "model.onnx")
    ops = common.export_onnx(model, path, spec["opset"], **spec["export"])
    ref = common.write_reference_outputs(model, out_dir, x_test, y_test,
                                         spec["opset"], secs, samples=False)
    diff = common.check_onnx_matches(path, x_test[:256].numpy(),
                                     common.predict_logits(model, x_test[:256]).numpy())
    print("%s: ONNX (numpy evaluation) vs torch max|diff| %.2g" % (name, diff))
    print("%s: test_acc %.4f params %d train %.0fs" % (
        name, ref["test_accuracy"], ref["params"], secs))
    print("%s ops: %s" % (name, ", ".join(ops)), flush=True)
    if name == "cnn_bn_maxpool":
        n_bn = sum(n.op_type == "BatchNormalization"
                   for n in onnx.load(path).graph.node)
        print("%s: %d BatchNormalization nodes in graph" % (name, n_bn))
    return ref


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=sorted(VARIANTS))
    ap.add_argument("--epochs", type=int, help="override (testing only)")
    ap.add_argument("--subset", type=int, help="train on first N (testing only)")
    args = ap.parse_args()
    common.setup_torch(1)
    x_train, y_train = common.load_fashion_mnist("train")
    x_test, y_test = common.load_fashion_mnist("test")
    if args.subset:
        x_train, y_train = x_train[:args.subset], y_train[:args.subset]
    for name, spec in VARIANTS.items():
        if args.only in (None, name):
            run_variant(name, spec, x_train, y_train, x_test, y_test, args.epochs)


if __name__ == "__main__":
    main()
