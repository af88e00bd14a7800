#!/usr/bin/python3
"""PyTorch baseline for the spiking trainer (issue 18): the spiking MLP 784-512-256-10 trained
directly with BPTT and a surrogate gradient, the way snnTorch / SpikingJelly users train it.

  neurons  LIF, v = beta v + I, spike when v >= theta (theta 1), reset by subtraction, the reset
           detached from the graph (snnTorch's and SpikingJelly's default); beta 1 gives IF; the
           membrane starts at theta / 2 as SpikeFormer's neurons do (--v0 zero: at 0, as snnTorch)
  surrogate fast sigmoid: d spike / d v = 1 / (1 + k |v - theta|)^2, k = 25 (snnTorch's default)
  input    direct: the image (pixel / 255) is the input current at every step; fc1 of a constant
           input is the same every step, so it is computed once per batch (--per-step-fc1 computes
           it at every step, as the tutorials write it)
  readout  the mean over the T steps of the last layer's current (no neuron), cross-entropy
  training batch 128, AdamW (lr 1e-3, weight decay 0.01), cosine schedule over all steps with a
           warm-up of 100 steps, T = 8

Prints JSON: per epoch the seconds, images per second, train loss and accuracy, test accuracy,
spikes per neuron per step; the seed, threads and settings.
  usage: bench/torch_snn_train.py [--epochs E] [--threads N] [--limit N] [--beta B] [--json FILE]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
import common  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--timesteps", type=int, default=8)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--weight-decay", type=float, default=0.01)
ap.add_argument("--beta", type=float, default=0.9)
ap.add_argument("--slope", type=float, default=25.0)
ap.add_argument("--limit", type=int, default=0, help="training images (0: all 60,000)")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--per-step-fc1", action="store_true")
ap.add_argument("--v0", choices=["half", "zero"], default="half", help="the membrane at the start: theta / 2 (SpikeFormer's neurons) or 0")
ap.add_argument("--json")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
np.random.seed(a.seed)


class FastSigmoidSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, slope):
        ctx.save_for_backward(u)
        ctx.slope = slope
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g / (1.0 + ctx.slope * u.abs()) ** 2, None


spike_fn = FastSigmoidSpike.apply


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 512)
        self.fc2 = torch.nn.Linear(512, 256)
        self.fc3 = torch.nn.Linear(256, 10)

    def forward(self, x, T, beta, slope, per_step_fc1=False):
        B = x.shape[0]
        v0 = 0.5 if a.v0 == "half" else 0.0
        v1 = torch.full((B, 512), v0)
        v2 = torch.full((B, 256), v0)
        out = 0
        spikes = 0.0
        c1 = None if per_step_fc1 else self.fc1(x)
        for _ in range(T):
            i1 = self.fc1(x) if per_step_fc1 else c1
            v1 = beta * v1 + i1
            s1 = spike_fn(v1 - 1.0, slope)
            v1 = v1 - s1.detach()
            v2 = beta * v2 + self.fc2(s1)
            s2 = spike_fn(v2 - 1.0, slope)
            v2 = v2 - s2.detach()
            out = out + self.fc3(s2)
            spikes += float(s1.sum() + s2.sum())
        return out / T, spikes / (B * T * (512 + 256))


xtr, ytr = common.load_fashion_mnist("train")
xte, yte = common.load_fashion_mnist("test")
xtr = torch.as_tensor(xtr, dtype=torch.float32).reshape(len(xtr), -1)
xte = torch.as_tensor(xte, dtype=torch.float32).reshape(len(xte), -1)
ytr = torch.as_tensor(ytr, dtype=torch.int64)
yte = torch.as_tensor(yte, dtype=torch.int64)
if a.limit:
    xtr, ytr = xtr[: a.limit], ytr[: a.limit]

net = Net()
opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=a.weight_decay)
steps_per_epoch = (len(xtr) + a.batch - 1) // a.batch
total = steps_per_epoch * a.epochs
warm = min(100, total // 10)


def lr_at(step):
    if step < warm:
        return a.lr * (step + 1) / warm
    return a.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def evaluate():
    net.eval()
    right = 0
    with torch.no_grad():
        for s in range(0, len(xte), 1000):
            out, _ = net(xte[s:s + 1000], a.timesteps, a.beta, a.slope)
            right += int((out.argmax(1) == yte[s:s + 1000]).sum())
    net.train()
    return right / len(xte)


epochs, step = [], 0
for e in range(a.epochs):
    perm = torch.randperm(len(xtr))
    t0 = time.perf_counter()
    loss_sum = right = seen = 0
    rate = 0.0
    for b in range(steps_per_epoch):
        idx = perm[b * a.batch:(b + 1) * a.batch]
        x, y = xtr[idx], ytr[idx]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        out, r = net(x, a.timesteps, a.beta, a.slope, a.per_step_fc1)
        loss = torch.nn.functional.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        loss_sum += float(loss) * len(idx)
        right += int((out.argmax(1) == y).sum())
        seen += len(idx)
        rate += r * len(idx)
    secs = time.perf_counter() - t0
    epochs.append({"epoch": e + 1, "seconds": secs, "images_per_second": seen / secs, "train_loss": loss_sum / seen,
                   "train_accuracy": right / seen, "test_accuracy": evaluate(), "spikes_per_neuron_per_step": rate / seen})
    print(json.dumps(epochs[-1]), file=sys.stderr)

doc = {"framework": "pytorch %s" % torch.__version__, "threads": a.threads, "timesteps": a.timesteps, "batch": a.batch, "beta": a.beta,
       "surrogate": "fast_sigmoid", "slope": a.slope, "per_step_fc1": a.per_step_fc1, "v0": a.v0, "train_images": len(xtr), "epochs": epochs,
       "test_accuracy": epochs[-1]["test_accuracy"], "seconds_per_12800_images": 12800 * sum(x["seconds"] for x in epochs) / (len(xtr) * a.epochs)}
print(json.dumps(doc, indent=1))
if a.json:
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
