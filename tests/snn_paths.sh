#!/usr/bin/env bash
# Identical spikes and accuracy between 1 and 2 threads, and between the bit-packed, event-list and
# dense synaptic paths (per-layer spike counts and accuracy after every timestep must be equal).
#   usage: tests/snn_paths.sh SPIKEFORMER_BIN
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp.sfm" --neuron if --calib-samples 128 > /dev/null || exit 1
"$BIN" convert "$ROOT/models/vit/model.onnx" -o "$T/vit.sfm" --calib-samples 128 > /dev/null || exit 1
pass=0; fail=0
sig() { grep -E '"(spikes_per_sample|snn_accuracy_by_t)"' "$1" | tr -d ' \t'; }
for m in mlp vit; do
  ref=""
  for cfg in "1 auto" "2 auto" "1 dense" "1 event" "1 bitpacked" "2 event"; do
    set -- $cfg
    "$BIN" eval "$T/$m.sfm" --limit 200 --timesteps 8 --threads "$1" --path "$2" --no-ann --json "$T/$m-$1-$2.json" > /dev/null || { echo "FAIL $m $cfg: eval failed"; fail=$((fail+1)); continue; }
    s=$(sig "$T/$m-$1-$2.json")
    if [ -z "$ref" ]; then ref=$s; echo "ok   $m threads=$1 path=$2 (reference)"; pass=$((pass+1))
    elif [ "$s" = "$ref" ]; then echo "ok   $m threads=$1 path=$2: identical spikes and accuracy"; pass=$((pass+1))
    else echo "FAIL $m threads=$1 path=$2 differs"; fail=$((fail+1)); fi
  done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
