#!/usr/bin/env bash
# ANN inference benchmark: SpikeFormer's float executor vs PyTorch (Debian python3-torch), same
# machine, same thread count, same batch (256), same 10,000 test images, measured in one run.
# Prints the ratio (SpikeFormer time / PyTorch time): below 1.0 means SpikeFormer is faster.
# Each side: best of 3 passes. PyTorch is pointed at the OpenMP build of OpenBLAS (the same BLAS
# SpikeFormer links) so the baseline is not handicapped by Debian's reference BLAS.
#   usage: bench/run.sh [BUILD_DIR] [THREADS]
set -euo pipefail
BUILD=${1:-build}
THREADS=${2:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SF_WITH_PYTHON=1 bash "$ROOT/scripts/install-deps.sh"
BIN=$ROOT/$BUILD/spikeformer
OB=/usr/lib/x86_64-linux-gnu/openblas-openmp
# the same OpenBLAS kernels for PyTorch as spikeformer uses (it requests the CPU's family where
# OpenBLAS 0.3.21 would fall back to generic SSE3 kernels)
export OPENBLAS_CORETYPE=$("$BIN" version | sed -n 's/^BLAS: OpenBLAS, \([A-Za-z0-9]*\) kernels.*/\1/p')
echo "BLAS kernels for both sides: OpenBLAS $OPENBLAS_CORETYPE"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
printf "%-6s %8s %12s %12s %10s %s\n" model threads spikeformer_s pytorch_s ratio "accuracy (sf / torch)"
for model in vit mlp; do
  best=""
  for rep in 1 2 3; do
    "$ROOT/$BUILD/spikeformer" eval "$ROOT/models/$model/model.onnx" --threads "$THREADS" --batch 256 --json "$T/sf.json" > /dev/null
    s=$(sed -n 's/.*"seconds":\s*\([0-9.e-]*\).*/\1/p' "$T/sf.json")
    best=$(awk -v a="$s" -v b="$best" 'BEGIN { if (b == "" || a < b) print a; else print b }')
  done
  acc_sf=$(sed -n 's/.*"accuracy":\s*\([0-9.]*\).*/\1/p' "$T/sf.json")
  LD_LIBRARY_PATH=$OB OMP_NUM_THREADS=$THREADS /usr/bin/python3 "$ROOT/bench/torch_ann.py" --model $model --threads "$THREADS" > "$T/pt.json"
  pt=$(sed -n 's/.*"seconds": \([0-9.e-]*\).*/\1/p' "$T/pt.json")
  acc_pt=$(sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p' "$T/pt.json")
  ratio=$(awk -v a="$best" -v b="$pt" 'BEGIN { printf "%.3f", a / b }')
  printf "%-6s %8s %12.4f %12.4f %10s %s / %s\n" "$model" "$THREADS" "$best" "$pt" "$ratio" "$acc_sf" "$acc_pt"
done
