#!/usr/bin/python3
"""PyTorch baseline for bench/run.sh: ANN inference of a shipped model over the Fashion-MNIST test
set, batch 256, with a given thread count. Weights come from the committed safetensors file, the
module tree from models/train_reference.py. Prints JSON {"seconds", "accuracy", "samples"}."""
import argparse
import json
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
import common  # noqa: E402
import train_reference as tr  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--model", choices=["vit", "mlp"], default="vit")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--repeat", type=int, default=3)
a = ap.parse_args()

torch.set_num_threads(a.threads)
model = tr.ViTForImageClassification(tr.VIT_CONFIG) if a.model == "vit" else tr.SpikeformerMLP()
state = common.load_safetensors(os.path.join(ROOT, "models", a.model, "hf", "model.safetensors"))
model.load_state_dict(state, strict=True)
model.eval()
x, y = common.load_fashion_mnist("test")
best = float("inf")
with torch.inference_mode():
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        preds = torch.cat([model(x[i:i + a.batch]).argmax(1) for i in range(0, len(x), a.batch)])
        best = min(best, time.perf_counter() - t0)
acc = (preds == y).float().mean().item()
print(json.dumps({"seconds": best, "accuracy": acc, "samples": len(x), "threads": a.threads,
                  "torch": torch.__version__, "blas": torch.__config__.show().count("BLAS")}))
