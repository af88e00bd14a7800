"""Convert the shipped ViT into a spiking network, evaluate it at T = 1..8 beside the ANN, and plot
accuracy against T (notebook-style: each `# %%` is a cell).

    python3 examples/convert_and_plot.py [OUT.png] [IMAGES]
"""
# %% Load the pre-trained ViT (ONNX) and check it on the test images
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt

import spikeformer as sf

root = Path(__file__).resolve().parent.parent
data = "/usr/share/datasets/fashion-mnist"
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("accuracy_vs_t.png")
images = int(sys.argv[2]) if len(sys.argv) > 2 else 1000

ann = sf.load(root / "models/vit/model.onnx")
print("ANN:", ann.evaluate(data, limit=images)["accuracy"])

# %% Convert: burst neurons, thresholds calibrated on 512 training images for T = 8
snn = sf.convert(ann, calib=data, timesteps=8, neuron="burst", policy="mse")
print(snn.summary()["nodes_by_mode"])

# %% Evaluate: one pass gives the accuracy after every step t = 1..8, the ANN beside it
r = snn.evaluate(data, timesteps=8, limit=images)
for t, acc in enumerate(r["snn_accuracy_by_t"], 1):
    print(f"T={t}: SNN {acc:.4f}  (ANN {r['ann_accuracy']:.4f})")
print(f"spike purity {r['spike_purity']:.3f}, firing rate {r['firing_rate']:.3f}")

# %% Plot accuracy vs T beside the ANN and save it
T = range(1, len(r["snn_accuracy_by_t"]) + 1)
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(T, [100 * a for a in r["snn_accuracy_by_t"]], "o-", label="SNN (burst, T=8 thresholds)")
ax.axhline(100 * r["ann_accuracy"], color="gray", linestyle="--", label="ANN")
ax.set_xlabel("timesteps T")
ax.set_ylabel(f"accuracy on {r['samples']} test images (%)")
ax.set_title("ViT on Fashion-MNIST as a spiking network")
ax.legend(loc="lower right")
fig.tight_layout()
fig.savefig(out, dpi=120)
print("wrote", out)
