#!/usr/bin/env bash
# Data-parallel training over MPI against one process, measured in this one run: the spiking MLP
# (direct, from random weights, IF neurons, T = 8, batch 128, AdamW with a cosine schedule) for E
# epochs on all 55,000 training images (5,000 validate), 1 process x 1 thread against mpirun -np 2 x
# 1 thread, the same global batch. Prints each epoch's loss on both sides and their relative
# difference, the seconds per epoch and their ratio, and both test accuracies.
#   usage: bench/train_mpi_bench.sh [BUILD_DIR] [EPOCHS]
set -euo pipefail
BUILD=${1:-build}
EPOCHS=${2:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/$BUILD/spikeformer
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ARGS=(train "$ROOT/models/mlp/model.onnx" --mode direct --init random --epochs "$EPOCHS" --threads 1)
"$BIN" "${ARGS[@]}" -o "$T/one.sfm" --json "$T/one.json" > "$T/one.txt" 2>&1
mpirun --oversubscribe -np 2 "$BIN" "${ARGS[@]}" -o "$T/two.sfm" --json "$T/two.json" > "$T/two.txt" 2>&1
/usr/bin/python3 - "$T/one.json" "$T/two.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{'epoch':>5} {'loss 1x1':>10} {'loss 2x1':>10} {'diff':>7} {'s 1x1':>7} {'s 2x1':>7} {'speed-up':>8}")
worst = 0
for x, y in zip(a["epochs"], b["epochs"]):
    d = abs(x["train_loss"] - y["train_loss"]) / x["train_loss"]
    worst = max(worst, d)
    print(f"{x['epoch']:>5} {x['train_loss']:>10.4f} {y['train_loss']:>10.4f} {100 * d:>6.2f}% {x['seconds']:>7.2f} {y['seconds']:>7.2f} {x['seconds'] / y['seconds']:>7.2f}x")
print(f"largest loss difference {100 * worst:.2f}%; test accuracy 1 process {100 * a['test_accuracy']:.2f}%, 2 ranks {100 * b['test_accuracy']:.2f}% "
      f"(world_size {b['world_size']})")
PY
