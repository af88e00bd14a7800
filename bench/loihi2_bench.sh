#!/usr/bin/env bash
# The loihi2 emulator's speed against the cpu backend, measured in the same run (the machine is
# shared and noisy: runs alternate, and the median of each is kept): the shipped MLP converted with
# IF neurons, the full test set at T (default 32), on 1 thread and on all threads.
#   usage: bench/loihi2_bench.sh [T] [REPEATS]
set -euo pipefail
BIN=${SF_BIN:-build/spikeformer}
T=${1:-32}; R=${2:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$BIN" convert models/mlp/model.onnx -o "$W/mlp.sfm" --neuron if --timesteps "$T" > /dev/null
secs() { "$BIN" eval "$W/mlp.sfm" --no-ann --timesteps "$T" --threads "$1" "${@:2}" | sed -n 's/.*time \([0-9.]*\)s.*/\1/p'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-8s %-28s %10s %10s %8s\n" threads config cpu_s loihi2_s ratio
for th in 1 $(nproc); do
  for cfg in "cuba:" "sdnn:family=sdnn"; do
    name=${cfg%%:*}; opt=${cfg#*:}
    c=(); l=()
    for _ in $(seq "$R"); do
      c+=("$(secs "$th")")
      if [ -n "$opt" ]; then l+=("$(secs "$th" --backend loihi2 --backend-opt "$opt")"); else l+=("$(secs "$th" --backend loihi2)"); fi
    done
    cm=$(printf "%s\n" "${c[@]}" | median); lm=$(printf "%s\n" "${l[@]}" | median)
    printf "%-8s %-28s %10s %10s %8.2f\n" "$th" "MLP T=$T loihi2 $name" "$cm" "$lm" "$(echo "$lm / $cm" | bc -l)"
  done
done
