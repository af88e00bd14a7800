#!/usr/bin/env bash
# The spiking trainer against PyTorch, every ratio measured in this one run on this machine: the
# same spiking MLP 784-512-256-10 (LIF beta 0.9, membranes from theta / 2, reset by subtraction and
# detached, fast-sigmoid surrogate slope 25, T = 8, readout the mean output current), batch 128,
# AdamW (lr 1e-3, weight decay 0.01) with a cosine schedule after 100 warm-up steps, BPTT, from
# PyTorch's nn.Linear initialisation, on Fashion-MNIST, no validation split (both train on the
# same images). Both sides use the same OpenBLAS kernels.
#   1. time per epoch at 1 and 2 threads: bench/torch_snn_train.py against `spikeformer train
#      --mode direct --init random`, best of 3 runs of one epoch on the first N images
#   2. with --full E: E epochs on all 60,000 images, both sides' test accuracy after each epoch
#   3. where SpikeFormer's time goes (its --log debug phase timings) and the kernels of the
#      spike-fed layers against sgemm (bench_train_kernels)
#   usage: bench/train_bench.sh [BUILD_DIR] [--images N] [--full E]
set -euo pipefail
BUILD=build
IMAGES=12800
FULL=0
while [ $# -gt 0 ]; do
  case $1 in
    --images) IMAGES=$2; shift 2 ;;
    --full) FULL=$2; shift 2 ;;
    *) BUILD=$1; shift ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/$BUILD/spikeformer
SF_WITH_PYTHON=1 bash "$ROOT/scripts/install-deps.sh"
export OPENBLAS_CORETYPE=$("$BIN" version | sed -n 's/^BLAS: OpenBLAS, \([A-Za-z0-9]*\) kernels.*/\1/p')
echo "BLAS kernels for both sides: OpenBLAS $OPENBLAS_CORETYPE"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
num() { sed -n "s/.*\"$1\":[ \t]*\([0-9.e+-]*\).*/\1/p" "$2" | head -1; }
SF_ARGS=(train "$ROOT/models/mlp/model.onnx" --mode direct --init random --beta 0.9 --timesteps 8 --surrogate fast_sigmoid --batch 128 --lr 1e-3
         --weight-decay 0.01 --schedule cosine --warmup 100 --val 0)

echo
echo "1. one epoch of $IMAGES images (best of 3)"
printf "%8s %12s %12s %8s\n" threads "pytorch s" "spikeformer s" ratio
for th in 1 2; do
  bt="" bs=""
  for k in 1 2 3; do
    /usr/bin/python3 "$ROOT/bench/torch_snn_train.py" --epochs 1 --limit "$IMAGES" --threads "$th" --json "$T/t.json" > /dev/null 2>&1
    t=$(num seconds "$T/t.json")
    "$BIN" "${SF_ARGS[@]}" --epochs 1 --limit "$IMAGES" --no-test --threads "$th" -o "$T/m.sfm" --json "$T/s.json" > /dev/null
    s=$(num seconds "$T/s.json")
    bt=$(awk -v a="$t" -v b="$bt" 'BEGIN { print (b == "" || a < b) ? a : b }')
    bs=$(awk -v a="$s" -v b="$bs" 'BEGIN { print (b == "" || a < b) ? a : b }')
  done
  printf "%8d %12.3f %12.3f %7.2fx\n" "$th" "$bt" "$bs" "$(awk -v a="$bt" -v b="$bs" 'BEGIN { print a / b }')"
done

echo
echo "3. where the time goes (spikeformer, 1 thread, one epoch of $IMAGES images)"
"$BIN" "${SF_ARGS[@]}" --epochs 1 --limit "$IMAGES" --no-test --threads 1 -o "$T/m.sfm" --log debug 2>&1 >/dev/null | sed -n 's/^spikeformer: debug: train: /  /p'
"$ROOT/$BUILD/bench/bench_train_kernels"

if [ "$FULL" -gt 0 ]; then
  echo
  echo "2. $FULL epochs on all 60,000 images, 2 threads: test accuracy after each epoch"
  /usr/bin/python3 "$ROOT/bench/torch_snn_train.py" --epochs "$FULL" --threads 2 --json "$T/tf.json" > /dev/null 2> "$T/tf.log"
  "$BIN" "${SF_ARGS[@]}" --epochs "$FULL" --threads 2 -o "$T/m.sfm" --json "$T/sf.json" > "$T/sf.log"
  /usr/bin/python3 - "$T/tf.json" "$T/sf.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
print("%6s %14s %14s %12s %12s" % ("epoch", "pytorch s", "spikeformer s", "pytorch loss", "spikeformer loss"))
for a, b in zip(t["epochs"], s["epochs"]):
    print("%6d %14.2f %14.2f %12.4f %12.4f" % (a["epoch"], a["seconds"], b["seconds"], a["train_loss"], b["train_loss"]))
print("test accuracy after %d epochs: pytorch %.2f%%, spikeformer %.2f%% (its saved model in the runtime)" % (len(t["epochs"]), 100 * t["test_accuracy"], 100 * s["test_accuracy"]))
print("time per epoch: pytorch %.2f s, spikeformer %.2f s, ratio %.2fx" % (sum(e["seconds"] for e in t["epochs"]) / len(t["epochs"]),
      sum(e["seconds"] for e in s["epochs"]) / len(s["epochs"]), sum(e["seconds"] for e in t["epochs"]) / sum(e["seconds"] for e in s["epochs"])))
EOF
fi
