#!/usr/bin/env bash
# Accuracy-vs-timesteps table for every threshold policy and neuron type, on the full Fashion-MNIST
# test set: convert MODEL once per configuration, evaluate at T = 1..TMAX in one pass each.
#   usage: bench/accuracy_table.sh MODEL OUT_DIR [TMAX] [TUNE_T] [CONFIG...]
#   CONFIG = NAME:convert-flags, e.g. "burst4-mse:--neuron burst --burst-levels 4 --policy mse"
set -euo pipefail
BIN=${SF_BIN:-build/spikeformer}
MODEL=$1; OUT=$2; TMAX=${3:-32}; TUNE=${4:-16}
shift 4 || shift $#
mkdir -p "$OUT"
CONFIGS=("$@")
if [ ${#CONFIGS[@]} -eq 0 ]; then
  CONFIGS=("burst4-mse:--neuron burst --burst-levels 4 --policy mse"
           "burst4-max:--neuron burst --burst-levels 4 --policy max"
           "burst4-p99.9:--neuron burst --burst-levels 4 --policy percentile --percentile 99.9"
           "if-mse:--neuron if --policy mse"
           "if-max:--neuron if --policy max"
           "if-p99.9:--neuron if --policy percentile --percentile 99.9"
           "lif-mse:--neuron lif --leak 0.99 --policy mse")
fi
for c in "${CONFIGS[@]}"; do
  name=${c%%:*}; flags=${c#*:}
  # shellcheck disable=SC2086
  "$BIN" convert "$MODEL" -o "$OUT/$name.sfm" --timesteps "$TUNE" $flags --json "$OUT/$name.convert.json" > "$OUT/$name.convert.txt"
  "$BIN" eval "$OUT/$name.sfm" --timesteps "$TMAX" --json "$OUT/$name.eval.json" > "$OUT/$name.eval.txt"
  echo "done $name" >&2
done
# summary: loss in points at T = 1 2 4 8 16 32
{
  printf "| config | ANN | T=1 | T=2 | T=4 | T=8 | T=16 | T=32 |\n|---|---|---|---|---|---|---|---|\n"
  for c in "${CONFIGS[@]}"; do
    name=${c%%:*}
    awk -v name="$name" 'BEGIN{RS="\\[|\\]"} NR==1{match($0,/"ann_accuracy":[ \t]*[0-9.]+/); split(substr($0,RSTART,RLENGTH),a,":"); ann=a[2]+0} NR==2{n=split($0,v,","); printf "| %s | %.2f%%", name, 100*ann; split("1 2 4 8 16 32",ts," "); for(i=1;i<=6;i++){t=ts[i]; if(t<=n) printf " | %.2f (%+.2f)", 100*v[t], 100*(v[t]-ann); else printf " | -"} printf " |\n"}' "$OUT/$name.eval.json"
  done
} | tee "$OUT/summary.md"
