#!/usr/bin/env bash
# NIR files checked by the real readers (../shared/vendor: nir 1.0.7, nirtorch, snnTorch 0.9.4, run with
# Debian's /usr/bin/python3): every file we write passes nir.read (type-checked); the MLP exported for snnTorch
# gives in snnTorch, image by image, the predictions of `spikeformer import` of the same file run here, and stays
# close to the ANN; files written by snnTorch's exporter and hand-written files (one per node type) import and
# match the reader's own output (or, for nodes snnTorch cannot run, a simulation of NIR's equations).
# Without the readers (no PYTHONPATH to ../shared/vendor, or no python3-h5py / python3-torch) it says why and
# exits 77, which ctest reports as skipped.
#   usage: tests/nir_readers.sh SPIKEFORMER_BIN [IMAGES (default 300)]
set -u
BIN=$1
N=${2:-300}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
DATA=/usr/share/datasets/fashion-mnist
VENDOR=""
PYTHONPATH=${PYTHONPATH:-}
for p in ${PYTHONPATH//:/ } "$ROOT/../shared/vendor"; do
  if [ -f "$p/nir_run.py" ]; then VENDOR=$(cd "$p" && pwd); break; fi
done
if [ -z "$VENDOR" ]; then
  echo "SKIPPED: the reference NIR readers are not here (no nir_run.py on PYTHONPATH nor in $ROOT/../shared/vendor; .ci/run sets PYTHONPATH=../shared/vendor)"
  exit 77
fi
export PYTHONPATH="$VENDOR${PYTHONPATH:+:$PYTHONPATH}"
if ! why=$("$PY" -c "import numpy, h5py, torch, nir, snntorch" 2>&1); then
  echo "SKIPPED: $PY cannot import the readers from $VENDOR: $(echo "$why" | tail -1)"
  exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; fail=$((fail+1)); }
CHECK="$PY $ROOT/tests/nir_check.py"
STEPS=8

$CHECK images "$N" "$T/x" || { echo "FAIL: images"; exit 1; }
"$BIN" convert "$ROOT/models/mlp/model.onnx" --neuron if --calib-samples 256 -o "$T/mlp.sfm" > /dev/null || { echo "FAIL: convert"; exit 1; }
"$BIN" convert "$ROOT/models/mlp/model.onnx" --neuron lif --leak 0.95 --reset zero --v-init 0 --calib-samples 256 -o "$T/mlp_lif.sfm" > /dev/null || { echo "FAIL: convert"; exit 1; }
# the CNN: its max pooling is written as the OR of the window's spikes (SumPool2d + a neuron firing on any)
"$BIN" convert "$ROOT/models/variants/cnn_bn_maxpool/model.onnx" --neuron if --reset zero --v-init 0 --timesteps 16 --calib-samples 256 -o "$T/cnn.sfm" > /dev/null || { echo "FAIL: convert"; exit 1; }

# 1. every dialect's file passes nir.read, type-checked
files=""
for m in mlp mlp_lif cnn; do
  for d in generic snntorch norse spikingjelly lava spinnaker2; do
    "$BIN" export "$T/$m.sfm" --format nir --nir-dialect $d -o "$T/${m}_$d.nir" > /dev/null 2>&1 || bad "export $m $d"
    files="$files $T/${m}_$d.nir"
  done
done
if $CHECK typecheck $files > "$T/tc" 2>&1; then ok "nir.read (type-checked) accepts all $(echo $files | wc -w) files (3 models x 6 dialects)"; else bad "nir.read: $(tail -3 "$T/tc")"; fi

# 2. the MLPs and the CNN exported for snnTorch: snnTorch (nir_run.py) against our import of the same file, image by image
for m in mlp mlp_lif cnn; do
  f="$T/${m}_snntorch.nir"
  "$BIN" import "$f" -o "$T/${m}_imp.sfm" > /dev/null || bad "import $f"
  "$BIN" run "$T/${m}_imp.sfm" --input "$T/x/img.npy" --timesteps $STEPS -o "$T/${m}_run" > /dev/null || bad "run ${m}_imp"
  if $CHECK reader "$f" --timesteps $STEPS --images "$T/x/img.npy" --out "$T/${m}_st.npy" 2> "$T/err" &&
     r=$($CHECK compare "$T/${m}_run/output_0.npy" "$T/${m}_st.npy" --timesteps $STEPS --labels "$T/x/labels.npy" --min-agree 0.99 2>&1); then
    ok "$m, snntorch dialect, T=$STEPS: snnTorch's import and ours agree image by image: $r"
  else bad "$m snntorch dialect: ${r:-$(tail -2 "$T/err")}"; fi
  acc=$(PYTHONPATH="$VENDOR" $PY "$VENDOR/nir_run.py" "$f" --reader snntorch --data $DATA --timesteps $STEPS --limit "$N" 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['accuracy'])")
  if $PY -c "import sys; sys.exit(0 if float('$acc') >= 0.84 else 1)"; then ok "$m in snnTorch via nir_run.py: accuracy $acc on $N images at T=$STEPS (the ANN: 0.896 on the first 1000)"
  else bad "$m in snnTorch: accuracy $acc"; fi
done
# the reset-to-zero model as converted and as snnTorch runs its export: the same dynamics
"$BIN" run "$T/mlp_lif.sfm" --input "$T/x/img.npy" --timesteps $STEPS -o "$T/lif_orig" > /dev/null
if r=$($CHECK compare "$T/lif_orig/output_0.npy" "$T/mlp_lif_st.npy" --timesteps $STEPS --min-agree 0.98 2>&1); then ok "LIF reset-to-zero model run here (not exported) against snnTorch's run of its export: $r"
else bad "LIF model against snnTorch: $r"; fi

# 3. files written by snnTorch's exporter: import, run, match the snnTorch modules that wrote them and snnTorch's reader
$CHECK make-snntorch "$T/st" --images "$T/x/img.npy" --timesteps $STEPS > /dev/null 2>&1 || bad "make-snntorch"
"$BIN" import "$T/st/snntorch_mlp.nir" -o "$T/st/mlp.sfm" > /dev/null && "$BIN" run "$T/st/mlp.sfm" --input "$T/x/flat.npy" --timesteps $STEPS -o "$T/st/run" > /dev/null
if r=$($CHECK compare "$T/st/run/output_0.npy" "$T/st/snntorch_mlp.ref.npy" --timesteps $STEPS --min-agree 0.99 2>&1); then ok "snnTorch-written MLP (LIF, beta 0.9 / 0.95) imported: matches the modules that wrote it: $r"
else bad "snnTorch-written MLP: $r"; fi
if $CHECK reader "$T/st/snntorch_mlp.nir" --timesteps $STEPS --images "$T/x/flat.npy" --out "$T/st/rd.npy" 2>/dev/null &&
   r=$($CHECK compare "$T/st/run/output_0.npy" "$T/st/rd.npy" --timesteps $STEPS --min-agree 0.99 2>&1); then ok "... and snnTorch's own import of that file: $r"
else bad "snnTorch-written MLP against snnTorch's import: $r"; fi

# 4. hand-written files, one per node type, against NIR's equations simulated in float64
$CHECK make-hand "$T/hand" --images-dir "$T/x" --timesteps $STEPS > "$T/hand.txt" 2>&1 || bad "make-hand: $(tail -2 "$T/hand.txt")"
for f in "$T"/hand/*.nir; do
  b=$(basename "$f" .nir)
  case $b in *conv2d*) X=img;; *conv1d*) X=seq;; *) X=flat;; esac
  if "$BIN" import "$f" -o "$T/hand/$b.sfm" > "$T/err" 2>&1 && "$BIN" run "$T/hand/$b.sfm" --input "$T/x/$X.npy" --timesteps $STEPS -o "$T/hand/$b.run" > /dev/null 2>&1 &&
     r=$($CHECK compare "$T/hand/$b.run/output_0.npy" "$T/hand/$b.ref.npy" --timesteps $STEPS --min-agree 0.99 2>&1); then
    ok "$b ($(grep "^$b.nir" "$T/hand.txt" | sed 's/^[^:]*: //')): $r"
  else bad "$b: ${r:-$(cat "$T/err")}"; fi
done
# a CNN snnTorch runs (Conv2d, LIF, AvgPool2d, Flatten(-3, -1), Affine): its reader against our import
f="$T/hand/hand_conv2d_lif_avgpool.nir"
if $CHECK reader "$f" --timesteps $STEPS --images "$T/x/img.npy" --out "$T/hand/cnn_st.npy" 2>/dev/null &&
   r=$($CHECK compare "$T/hand/hand_conv2d_lif_avgpool.run/output_0.npy" "$T/hand/cnn_st.npy" --timesteps $STEPS --min-agree 0.99 2>&1); then
  ok "hand-written CNN (Conv2d, LIF, AvgPool2d, Flatten, Affine) in snnTorch against our import: $r"
else bad "hand-written CNN in snnTorch: $r"; fi
# the IF file through snnTorch with the IF fix (upstream's IF import is broken): not runnable, said so
echo "note: snnTorch's upstream IF import is broken (vendor README); IF files are checked against the simulation above"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
