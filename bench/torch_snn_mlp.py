#!/usr/bin/python3
"""PyTorch baseline for bench/snn_bench.sh: the same converted ReLU MLP stepped in PyTorch the way
SpikingJelly / snnTorch run converted networks: a loop over timesteps, IF neurons (reset by
subtraction, membrane starting at theta/2), direct (analog) input every step, the classifier read
from the accumulated output. Thresholds are read from the .sfm that SpikeFormer wrote, so both sides
run the identical network. Prints JSON {"seconds", "accuracy", "samples", "timesteps"}."""
import argparse
import json
import os
import struct
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
import common  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("sfm")
ap.add_argument("--timesteps", type=int, default=32)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch", type=int, default=256)
a = ap.parse_args()
torch.set_num_threads(a.threads)

# .sfm: "SFM1" u32 version, then sections (u32 tag, u64 len, bytes)
data = open(a.sfm, "rb").read()
off, sections = 8, {}
while off < len(data):
    tag, n = struct.unpack("<IQ", data[off:off + 12])
    sections[struct.pack("<I", tag).decode()] = data[off + 12:off + 12 + n]
    off += 12 + n
thr = {s["site"]: torch.tensor(s["theta"], dtype=torch.float32) for s in json.loads(sections["THRS"])}
conf = json.loads(sections["CONF"])["options"]["spiking_config"]
K = conf["burst_levels"] if conf["neuron_model"] == "burst" else 1

w = common.load_safetensors(os.path.join(ROOT, "models", "mlp", "hf", "model.safetensors"))
fc = [torch.nn.Linear(w["fc%d.weight" % i].shape[1], w["fc%d.weight" % i].shape[0]) for i in (1, 2, 3)]
for i, l in enumerate(fc):
    l.weight.data, l.bias.data = w["fc%d.weight" % (i + 1)], w["fc%d.bias" % (i + 1)]
sites = sorted(thr.keys())  # /relu1/..., /relu2/...
th = [thr[sites[0]], thr[sites[1]]]


class IF(torch.nn.Module):
    def __init__(self, theta):
        super().__init__()
        self.theta, self.v = theta, None

    def forward(self, x):
        if self.v is None:
            self.v = torch.full_like(x, 0.0) + self.theta / 2
        self.v = self.v + x
        k = torch.clamp(torch.floor(self.v / self.theta), 0, K)
        self.v = self.v - k * self.theta
        return k * self.theta


x, y = common.load_fashion_mnist("test")
x = x.reshape(len(x), -1)
best = float("inf")
with torch.inference_mode():
    for _ in range(3):
        t0 = time.perf_counter()
        preds = []
        for i in range(0, len(x), a.batch):
            xb = x[i:i + a.batch]
            n1, n2 = IF(th[0]), IF(th[1])
            acc = torch.zeros(len(xb), 10)
            for t in range(a.timesteps):
                acc += fc[2](n2(fc[1](n1(fc[0](xb)))))
            preds.append(acc.argmax(1))
        best = min(best, time.perf_counter() - t0)
preds = torch.cat(preds)
print(json.dumps({"seconds": best, "accuracy": (preds == y).float().mean().item(), "samples": len(x), "timesteps": a.timesteps}))
