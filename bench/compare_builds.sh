#!/usr/bin/env bash
# Speed of two builds of spikeformer on the same work, interleaved (old, new, old, new...), best of
# 3 each, so that a refactoring shows no regression beyond noise: the ViT ANN executor and the
# converted ViT (rate and delta coding, float and int8, T=8) and MLP (T=32) on the 10,000 test images.
#   usage: bench/compare_builds.sh OLD_SPIKEFORMER NEW_SPIKEFORMER [THREADS]
set -euo pipefail
O=$1; N=$2; TH=${3:-2}
R=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# one set of .sfm files (converted by the new build) for both
"$N" convert "$R/models/vit/model.onnx" -o "$T/vit.sfm" --timesteps 8 > /dev/null
"$N" convert "$R/models/vit/model.onnx" -o "$T/vitd.sfm" --timesteps 8 --coding delta > /dev/null
"$N" convert "$R/models/mlp/model.onnx" -o "$T/mlp.sfm" --neuron if --timesteps 16 > /dev/null
sec() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['seconds'])" "$1"; }
run() { # LABEL ARGS...: best of 3 for each build, interleaved
  local label=$1; shift
  local bo=1e9 bn=1e9 so sn
  for k in 1 2 3; do
    "$O" "$@" --threads "$TH" --json "$T/o.json" > /dev/null; so=$(sec "$T/o.json")
    "$N" "$@" --threads "$TH" --json "$T/n.json" > /dev/null; sn=$(sec "$T/n.json")
    bo=$(awk -v a="$bo" -v b="$so" 'BEGIN { print (b < a ? b : a) }'); bn=$(awk -v a="$bn" -v b="$sn" 'BEGIN { print (b < a ? b : a) }')
  done
  awk -v l="$label" -v o="$bo" -v n="$bn" 'BEGIN { printf "%-28s old %.3fs  new %.3fs  new/old %.3f\n", l, o, n, n / o }'
}
run "ViT ANN executor" eval "$R/models/vit/model.onnx"
run "ViT SNN T=8 rate float" eval "$T/vit.sfm" --timesteps 8 --no-ann
run "ViT SNN T=8 rate int8" eval "$T/vit.sfm" --timesteps 8 --no-ann --quant int8
run "ViT SNN T=8 delta float" eval "$T/vitd.sfm" --timesteps 8 --no-ann
run "ViT SNN T=8 delta int8" eval "$T/vitd.sfm" --timesteps 8 --no-ann --quant int8
run "MLP SNN T=32 float" eval "$T/mlp.sfm" --timesteps 32 --no-ann
run "MLP SNN T=32 int8" eval "$T/mlp.sfm" --timesteps 32 --no-ann --quant int8
