#!/usr/bin/env bash
# docs/RESULTS.md, "Issue 19: NIR", the CNN: models/variants/cnn_bn_maxpool converted with IF neurons that
# reset to zero from 0, exported for snnTorch (its max pooling as the OR of the window's spikes), run by
# snnTorch 0.9.4 (../shared/vendor/nir_run.py) and by SpikeFormer (`import` of the same file, then `eval`),
# at T = 8, 16, 32 on the full test set, beside the converted model's own pooling; predictions compared
# image by image on the first 2000 images.
#   usage: bench/nir_cnn_accuracy.sh [BUILD (default build)]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/${1:-build}/spikeformer
PY=/usr/bin/python3
export PYTHONPATH=${PYTHONPATH:-$ROOT/../shared/vendor}
CHECK="$PY $ROOT/tests/nir_check.py"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
$CHECK images 2000 "$W/x" > /dev/null
printf "%-4s %-12s %-16s %-36s %s\n" T snnTorch "ours (import)" "converted (max of rates, reset zero)" "image by image (2000)"
for T in 8 16 32; do
  "$BIN" convert "$ROOT/models/variants/cnn_bn_maxpool/model.onnx" --neuron if --reset zero --v-init 0 --timesteps $T -o "$W/c.sfm" > /dev/null
  "$BIN" export "$W/c.sfm" --format nir --nir-dialect snntorch -o "$W/c.nir" > /dev/null
  "$BIN" import "$W/c.nir" -o "$W/ci.sfm" > /dev/null
  st=$($PY "$ROOT/../shared/vendor/nir_run.py" "$W/c.nir" --reader snntorch --data /usr/share/datasets/fashion-mnist --timesteps $T 2>/dev/null | tail -1 |
       $PY -c "import json,sys; print(json.load(sys.stdin)['accuracy'])")
  ours=$("$BIN" eval "$W/ci.sfm" --timesteps $T --no-ann | awk -v T=$T '$1==T{print $2}')
  conv=$("$BIN" eval "$W/c.sfm" --timesteps $T --no-ann | awk -v T=$T '$1==T{print $2}')
  $CHECK reader "$W/c.nir" --timesteps $T --images "$W/x/img.npy" --out "$W/st.npy" 2>/dev/null
  "$BIN" run "$W/ci.sfm" --input "$W/x/img.npy" --timesteps $T -o "$W/r" > /dev/null
  agree=$($CHECK compare "$W/r/output_0.npy" "$W/st.npy" --timesteps $T --labels "$W/x/labels.npy" --min-agree 0 | $PY -c "import json,sys; print(json.load(sys.stdin)['agree'])")
  printf "%-4s %-12s %-16s %-36s %s\n" $T "$st" "$ours" "$conv" "$agree"
done
