#!/usr/bin/env bash
# netx export, bit for bit: the file `spikeformer export --format netx` writes, simulated by an
# independent reader of Lava's fixed-point semantics (tests/netx_reference.py, written from Lava's
# and lava-dl's sources, sharing no code with the emulator), gives the same spikes and readout as
# `eval --backend loihi2`: per sample, a hash of every spike (step, layer, neuron) and the final
# readout of the output layer must be identical, and so must the accuracy.
#   usage: tests/netx_lava.sh SPIKEFORMER_BIN [SAMPLES]
# Both neuron families: CUBA LIF (IF: dv = 0, the vectorised kernels; LIF leak 0.95: dv = 205, the
# general step with its decays; a burst-converted model) and sigma-delta (SDNN, graded spikes); and
# the CNN (convolutions and pooling).
set -u
BIN=$1
N=${2:-400}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
if ! $PY -c "import numpy, h5py" 2>/dev/null; then
  echo "SKIP: $PY lacks numpy or h5py (Debian python3-numpy python3-h5py; scripts/install-deps.sh installs them)"
  exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { # name convert-flags timesteps [backend options: KEY=VALUE ...]
  local name=$1 flags=$2 steps=$3
  shift 3
  local opts=()
  for kv in "$@"; do opts+=(--backend-opt "$kv"); done
  # shellcheck disable=SC2086
  "$BIN" convert "$ROOT/${MODEL:-models/mlp/model.onnx}" -o "$T/$name.sfm" $flags --timesteps "$steps" --calib-samples 256 > /dev/null || { echo "FAIL $name: convert"; fail=$((fail+1)); return; }
  "$BIN" export "$T/$name.sfm" --format netx -o "$T/$name.net" "${opts[@]}" > /dev/null || { echo "FAIL $name: export"; fail=$((fail+1)); return; }
  "$BIN" eval "$T/$name.sfm" --backend loihi2 --timesteps "$steps" --limit "$N" --no-ann --json "$T/$name.json" \
    --backend-opt trace="$T/$name.emu" "${opts[@]}" > /dev/null || { echo "FAIL $name: eval --backend loihi2"; fail=$((fail+1)); return; }
  $PY "$ROOT/tests/netx_reference.py" "$T/$name.net" --timesteps "$steps" --limit "$N" --trace "$T/$name.ref" --json > "$T/$name.refjson" \
    || { echo "FAIL $name: the reference rejected the file"; fail=$((fail+1)); return; }
  local lines diffs
  lines=$(wc -l < "$T/$name.ref")
  if [ "$lines" -ne "$N" ] || [ "$(wc -l < "$T/$name.emu")" -ne "$N" ]; then
    echo "FAIL $name: expected $N trace lines, got $lines (reference) and $(wc -l < "$T/$name.emu") (emulator)"; fail=$((fail+1)); return
  fi
  diffs=$(diff "$T/$name.ref" "$T/$name.emu" | grep -c '^<')
  if [ "$diffs" -ne 0 ]; then
    echo "FAIL $name: $diffs of $N samples differ between Lava's semantics and the loihi2 emulator; first:"
    diff "$T/$name.ref" "$T/$name.emu" | head -4
    fail=$((fail+1)); return
  fi
  # the accuracies agree too (the reference's JSON against eval's accuracy at the last step)
  local ra ea
  ra=$($PY -c "import json,sys; print('%.6f' % json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])['accuracy'])" "$T/$name.refjson")
  ea=$($PY -c "import json,sys; print('%.6f' % json.load(open(sys.argv[1]))['snn_accuracy_by_t'][-1])" "$T/$name.json")
  if [ "$ra" != "$ea" ]; then echo "FAIL $name: accuracy $ra (reference) vs $ea (eval)"; fail=$((fail+1)); return; fi
  echo "ok   $name: $N samples x $steps steps, every spike and readout identical, accuracy $ea"
  pass=$((pass+1))
}
check if16 "--neuron if" 16
check lif16 "--neuron lif --leak 0.95" 16
check burst8 "" 8
# the sigma-delta family (lava-dl SDNN: Delta input, SigmaDelta ReLU layers, Sigma output; graded
# spikes): a delta-coded conversion (auto) and a rate-coded one lowered to it (family=sdnn)
check delta8 "--neuron if --coding delta" 8
check sdnn16 "--neuron if" 16 family=sdnn sdnn_vth=0.05
# the CNN: Conv layers (Lava's Conv process: netx's flipped kernels, 24-bit sums) and max pooling
# of spikes as their OR (a depthwise Conv of ones)
MODEL=models/variants/cnn_bn_maxpool/model.onnx check cnn16 "--neuron if" 16
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
