#!/usr/bin/env bash
# docs/RESULTS.md, "Issue 19: NIR": the shipped MLP converted with IF neurons, exported for snnTorch (NIR,
# snntorch dialect), run by snnTorch 0.9.4 (../shared/vendor/nir_run.py) and by SpikeFormer (`import` of the
# same file, then `run`), image by image, at T = 8, 16, 32; beside the converted model's own dynamics (reset
# by subtraction from theta / 2, and reset to zero from 0) and the ANN; the generic round trip.
#   usage: bench/nir_accuracy.sh [BUILD (default build)] [IMAGES (default 10000)]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/${1:-build}/spikeformer
N=${2:-10000}
PY=/usr/bin/python3
export PYTHONPATH=${PYTHONPATH:-$ROOT/../shared/vendor}
CHECK="$PY $ROOT/tests/nir_check.py"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
$CHECK images "$N" "$W/x"
"$BIN" convert "$ROOT/models/mlp/model.onnx" --neuron if -o "$W/sub.sfm" > /dev/null
"$BIN" convert "$ROOT/models/mlp/model.onnx" --neuron if --reset zero --v-init 0 -o "$W/zero.sfm" > /dev/null
"$BIN" convert "$ROOT/models/mlp/model.onnx" --neuron lif --leak 0.95 --reset zero --v-init 0 -o "$W/lif.sfm" > /dev/null
for m in sub lif; do
  "$BIN" export "$W/$m.sfm" --format nir --nir-dialect snntorch -o "$W/$m.nir" > /dev/null
  "$BIN" import "$W/$m.nir" -o "$W/${m}_imp.sfm" > /dev/null
done
"$BIN" export "$W/sub.sfm" --format nir -o "$W/generic.nir" > /dev/null && "$BIN" import "$W/generic.nir" -o "$W/generic_imp.sfm" > /dev/null
ann=$("$BIN" eval "$ROOT/models/mlp/model.onnx" --limit "$N" --json "$W/ann.json" > /dev/null && $PY -c "import json; print(json.load(open('$W/ann.json'))['accuracy'])")
echo "images: $N; ANN: $ann"
printf "%-4s %-28s %-28s %-10s %-22s %-22s %-28s\n" T "snnTorch (snntorch dialect)" "SpikeFormer import, same file" agree "IF reset by subtraction" "IF reset to zero from 0" "LIF 0.95 zero: snnTorch / ours"
for T in 8 16 32; do
  $CHECK reader "$W/sub.nir" --timesteps $T --images "$W/x/img.npy" --out "$W/st.npy" 2>/dev/null
  "$BIN" run "$W/sub_imp.sfm" --input "$W/x/img.npy" --timesteps $T -o "$W/r" > /dev/null
  c=$($CHECK compare "$W/r/output_0.npy" "$W/st.npy" --timesteps $T --labels "$W/x/labels.npy" --min-agree 0)
  $CHECK reader "$W/lif.nir" --timesteps $T --images "$W/x/img.npy" --out "$W/stl.npy" 2>/dev/null
  "$BIN" run "$W/lif_imp.sfm" --input "$W/x/img.npy" --timesteps $T -o "$W/rl" > /dev/null
  cl=$($CHECK compare "$W/rl/output_0.npy" "$W/stl.npy" --timesteps $T --labels "$W/x/labels.npy" --min-agree 0)
  for m in sub zero; do "$BIN" eval "$W/$m.sfm" --timesteps $T --limit "$N" --json "$W/$m.json" > /dev/null; done
  "$BIN" eval "$W/generic_imp.sfm" --timesteps $T --limit "$N" --json "$W/g.json" > /dev/null
  $PY - "$T" "$c" "$cl" "$W" <<'PY'
import json, sys
T, c, cl, W = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
sub, zero, g = (json.load(open(f"{W}/{m}.json")) for m in ("sub", "zero", "g"))
rt = "identical" if g["snn_accuracy_by_t"] == sub["snn_accuracy_by_t"] else "DIFFERS"
print(f"{T:<4} {c['theirs_accuracy']:<28.4f} {c['ours_accuracy']:<28.4f} {c['agree']:<10.4f} {sub['snn_accuracy_by_t'][-1]:<22.4f} "
      f"{zero['snn_accuracy_by_t'][-1]:<22.4f} {cl['theirs_accuracy']:.4f} / {cl['ours_accuracy']:.4f} (agree {cl['agree']:.4f})   round trip (generic): {rt}")
PY
done
