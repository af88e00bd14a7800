#!/usr/bin/env bash
# Spiking runtime benchmarks, every ratio measured in this one run on this machine:
#   1. ViT as an SNN at T=8 (full test set) vs the float ANN executor and vs PyTorch's ANN, rate-coded
#      and delta-coded (sigma-delta)
#      (and at T=1: what each further timestep costs against one ANN pass, and by kind of work)
#   2. the ReLU MLP as an SNN at T=32 vs the same converted network stepped in PyTorch
#   3. synaptic events per second per core on a cache-resident layer
#   4. peak memory at T=64 vs T=4 (streaming over time)
#   5. costs behind the step loop's design (bench_step_costs.c)
#   6. the ViT on clips whose frames change (sensor noise), rate against delta coding (bench_clips.c)
#   usage: bench/snn_bench.sh [BUILD_DIR] [THREADS]
# Every time is the best of 3 runs on both sides (PyTorch too: its scripts take their best of 3).
set -euo pipefail
BUILD=${1:-build}
THREADS=${2:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/$BUILD/spikeformer
SF_WITH_PYTHON=1 bash "$ROOT/scripts/install-deps.sh"
OB=/usr/lib/x86_64-linux-gnu/openblas-openmp
# the same OpenBLAS kernels for PyTorch as spikeformer uses (it requests the CPU's family where
# OpenBLAS 0.3.21 would fall back to generic SSE3 kernels)
export OPENBLAS_CORETYPE=$("$BIN" version | sed -n 's/^BLAS: OpenBLAS, \([A-Za-z0-9]*\) kernels.*/\1/p')
echo "BLAS kernels for both sides: OpenBLAS $OPENBLAS_CORETYPE"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
num() { sed -n "s/.*\"$1\":[ \t]*\([0-9.e+-]*\).*/\1/p" "$2" | head -1; }
# best of 3 runs (the PyTorch scripts also report their best of several), JSON of the best kept in $1
best3() {
  local out=$1; shift
  local b="" k
  for k in 1 2 3; do
    "$@" --json "$out.$k" > /dev/null
    if [ -z "$b" ] || awk -v x="$(num seconds "$out.$k")" -v y="$(num seconds "$b")" 'BEGIN { exit !(x < y) }'; then b=$out.$k; fi
  done
  cp "$b" "$out"
}

"$BIN" convert "$ROOT/models/vit/model.onnx" -o "$T/vit.sfm" --timesteps 8 > /dev/null
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp.sfm" --neuron if --timesteps 16 > /dev/null

best3 "$T/vit_ann.json" "$BIN" eval "$ROOT/models/vit/model.onnx" --threads "$THREADS"
LD_LIBRARY_PATH=$OB OMP_NUM_THREADS=$THREADS /usr/bin/python3 "$ROOT/bench/torch_ann.py" --model vit --threads "$THREADS" > "$T/vit_torch.json"
ann=$(num seconds "$T/vit_ann.json"); pt=$(num seconds "$T/vit_torch.json")
printf "ViT float ANN executor %.2fs; PyTorch ANN %.2fs (10k images)\n" "$ann" "$pt"
# vit_ratio NAME SFM LABEL: the ViT SNN at T=8 (float and int8) against the ANN executor and PyTorch;
# JSON in $T/NAME_float.json and $T/NAME_int8.json
vit_ratio() {
  local q snn acc
  for q in float int8; do
    best3 "$T/$1_$q.json" "$BIN" eval "$2" --timesteps 8 --no-ann --quant $q --threads "$THREADS"
    snn=$(num seconds "$T/$1_$q.json")
    acc=$(sed -n 's/.*"snn_accuracy_by_t":[ \t]*\[\(.*\)\].*/\1/p' "$T/$1_$q.json" | awk -F, '{print $NF}')
    printf "ViT SNN T=8 %-5s%s: %.2fs (accuracy %s)\n" "$q" "$3" "$snn" "$acc"
    awk -v s="$snn" -v a="$ann" -v p="$pt" 'BEGIN { printf "  ratio SNN/ANN executor: %.2f   ratio SNN/PyTorch ANN: %.2f   (goal: <= 1.5)\n", s / a, s / p }'
    /usr/bin/python3 -c 'import json, sys; w = json.load(open(sys.argv[1]))["work_per_sample_by_t"]; print("  work per sample by step (ops + neuron updates): " + ", ".join("%.3g" % x for x in w))' "$T/$1_$q.json"
  done
}
vit_ratio vit_snn "$T/vit.sfm" ""
# The same ViT converted with delta (sigma-delta) coding: each value goes out once, then only its
# changes, so on a static image the steps after the first have (next to) nothing to do
"$BIN" convert "$ROOT/models/vit/model.onnx" -o "$T/vit_delta.sfm" --timesteps 8 --coding delta > /dev/null
vit_ratio vit_delta "$T/vit_delta.sfm" " delta-coded"

# Clips (input that changes every frame): rate against delta coding on the same noisy clips
"$ROOT/$BUILD/bench/bench_clips" "$T/vit.sfm" "$T/vit_delta.sfm" 1000 8

# Where the ViT's time goes: the cost of one more timestep (T=8 vs T=1, int8) against the ANN's
# whole pass, and the spike-fed layers' share of the T=8 run (eval's thread-seconds by kind of work)
best3 "$T/vit_snn_t1.json" "$BIN" eval "$T/vit.sfm" --timesteps 1 --no-ann --quant int8 --threads "$THREADS"
/usr/bin/python3 - "$T/vit_snn_int8.json" "$T/vit_snn_t1.json" "$ann" <<'EOF'
import json, sys
t8, t1, ann = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
step = (t8["seconds"] - t1["seconds"]) / 7
kinds = t8["seconds_by_kind"]
syn = t8["seconds"] * kinds["synapses"] / sum(kinds.values())
print("ViT SNN int8: T=1 %.2fs; each further step %.2fs = %.2f x the ANN executor's whole pass "
      "(1.5x at T=8 needs <= %.2f)" % (t1["seconds"], step, step / ann, (1.5 * ann - t1["seconds"]) / 7 / ann))
print("  at T=8: spike-fed layers %.2fs of wall time (%.2f x the ANN pass); by kind: %s" %
      (syn, syn / ann, ", ".join("%s %.0f%%" % (k, 100 * v / sum(kinds.values())) for k, v in kinds.items())))
EOF

LD_LIBRARY_PATH=$OB OMP_NUM_THREADS=$THREADS /usr/bin/python3 "$ROOT/bench/torch_snn_mlp.py" "$T/mlp.sfm" --timesteps 32 --threads "$THREADS" > "$T/mlp_torch.json"
p=$(num seconds "$T/mlp_torch.json"); acc_p=$(num accuracy "$T/mlp_torch.json")
printf "MLP SNN T=32, PyTorch timestep loop: %.2fs (accuracy %s)\n" "$p" "$acc_p"
for q in float int8; do
  best3 "$T/mlp_snn_$q.json" "$BIN" eval "$T/mlp.sfm" --timesteps 32 --no-ann --quant $q --threads "$THREADS"
  s=$(num seconds "$T/mlp_snn_$q.json")
  acc=$(sed -n 's/.*"snn_accuracy_by_t":[ \t]*\[\(.*\)\].*/\1/p' "$T/mlp_snn_$q.json" | awk -F, '{print $NF}')
  printf "MLP SNN T=32 %-5s: SpikeFormer %.3fs (accuracy %s)\n" "$q" "$s" "$acc"
  awk -v s="$s" -v p="$p" 'BEGIN { printf "  speed-up vs PyTorch loop: %.1fx   (goal: >= 20x)\n", p / s }'
done

OMP_NUM_THREADS=1 "$ROOT/$BUILD/bench/bench_events"
# what the step loop's design rests on: OpenMP region set-up, EC passes by cache level, fused EC
"$ROOT/$BUILD/bench/bench_step_costs"

"$BIN" eval "$T/vit.sfm" --timesteps 4 --limit 2000 --no-ann --threads "$THREADS" --json "$T/m4.json" > /dev/null
"$BIN" eval "$T/vit.sfm" --timesteps 64 --limit 2000 --no-ann --threads "$THREADS" --json "$T/m64.json" > /dev/null
a=$(num peak_rss_kib "$T/m4.json"); b=$(num peak_rss_kib "$T/m64.json")
awk -v a="$a" -v b="$b" 'BEGIN { printf "peak memory: T=4 %.1f MiB, T=64 %.1f MiB, ratio %.3f   (goal: <= 1.2)\n", a / 1024, b / 1024, b / a }'
