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
# delta coding: the ViT (bursts of up to 127, settles at once) and the MLP with IF neurons (one
# spike per step: values go out over many steps, so nodes run and are skipped step by step)
"$BIN" convert "$ROOT/models/vit/model.onnx" -o "$T/vit-delta.sfm" --calib-samples 128 --coding delta > /dev/null || exit 1
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp-delta.sfm" --neuron if --calib-samples 128 --coding delta > /dev/null || exit 1
pass=0; fail=0
# The signature of a run: every layer's spikes and the accuracy after every step. A run whose JSON
# lacks those keys (renamed, or an eval that wrote nothing) would give an empty signature that
# matches every other empty one: stop at once, loudly, instead of passing.
sig() {
  local s
  s=$(grep -E '"(spikes_per_sample|snn_accuracy_by_t)"' "$1" 2>/dev/null | tr -d ' \t')
  if ! grep -q '"snn_accuracy_by_t"' <<< "$s" || ! grep -q '"spikes_per_sample"' <<< "$s"; then
    echo "FAIL $1: the JSON lacks \"snn_accuracy_by_t\" or \"spikes_per_sample\" (keys renamed?): nothing to compare, stopping" >&2
    echo "0 passed, 1 failed (signature keys missing)" >&2
    exit 1
  fi
  printf '%s' "$s"
}
# float runs must agree among themselves, int8 runs among themselves. SF_ISA=c (portable kernels),
# avx2 and avx512 (the int8 kernels' AVX2 code) must also agree for the int8 MLP, whose spiking
# layers are all integer; float arithmetic (FMA or not, the ViT's float functions) may round
# differently across instruction sets.
for m in mlp vit vit-delta mlp-delta; do
  for q in float int8; do
    ref=""
    # threads path [isa] [schedule]; the int8 MLP is a time-major chain unless --schedule step
    cfgs=("1 auto" "2 auto" "1 dense" "1 event" "1 bitpacked" "2 event")
    [ $m-$q = mlp-int8 ] && cfgs+=("2 dense c" "1 event c" "1 auto - step" "2 event - step" "1 dense - step" "1 auto c step"
                                  "1 auto avx2" "2 event avx2 step" "1 dense avx512")
    for cfg in "${cfgs[@]}"; do
      set -- $cfg
      isa_env=${3:-}; isa_env=${isa_env/#-/}; isa=${isa_env:-native}; sch=${4:-auto}
      out="$T/$m-$1-$2-$q-$isa-$sch.json"
      SF_ISA=$isa_env "$BIN" eval "$T/$m.sfm" --limit 200 --timesteps 8 --threads "$1" --path "$2" --quant $q --schedule $sch --no-ann --json "$out" > /dev/null || { echo "FAIL $m $q $cfg: eval failed"; fail=$((fail+1)); continue; }
      s=$(sig "$out") || exit 1
      what="$m $q threads=$1 path=$2 isa=$isa schedule=$(sed -n 's/.*"schedule":[ \t]*"\([a-z-]*\)".*/\1/p' "$out")"
      if [ -z "$ref" ]; then ref=$s; echo "ok   $what (reference)"; pass=$((pass+1))
      elif [ "$s" = "$ref" ]; then echo "ok   $what: identical spikes and accuracy"; pass=$((pass+1))
      else echo "FAIL $what differs"; fail=$((fail+1)); fi
    done
  done
done
# the time-major chain with burst (K = 4) and leaky neurons: the general neuron kernel, step bits,
# blocks whose int16 sums could overflow falling back to rows; 70 steps = three blocks, batch tails
for nm in burst lif; do
  "$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp-$nm.sfm" --neuron $nm --calib-samples 128 > /dev/null || exit 1
  for sch in auto step; do
    "$BIN" eval "$T/mlp-$nm.sfm" --limit 300 --batch 100 --timesteps 70 --threads 2 --quant int8 --schedule $sch --no-ann --json "$T/chain-$nm-$sch.json" > /dev/null ||
      { echo "FAIL mlp $nm int8 schedule=$sch: eval failed"; fail=$((fail+1)); }
  done
  sa=$(sig "$T/chain-$nm-auto.json") || exit 1
  sb=$(sig "$T/chain-$nm-step.json") || exit 1
  if [ "$sa" = "$sb" ] && grep -q '"time-major"' "$T/chain-$nm-auto.json"; then
    echo "ok   mlp $nm int8 T=70: time-major chain and step-major identical"; pass=$((pass+1))
  else echo "FAIL mlp $nm int8 T=70: time-major chain and step-major differ"; fail=$((fail+1)); fi
done
# the whole test set (40 batches, the last of 16 images): a multi-threaded BLAS call in the analog
# first layer once split its sums differently at 1 and 2 threads and changed a few spikes here
for q in float int8; do
  for th in 1 2; do
    "$BIN" eval "$T/mlp.sfm" --timesteps 8 --threads $th --quant $q --no-ann --json "$T/full-$q-$th.json" > /dev/null || { echo "FAIL mlp full $q: eval failed"; fail=$((fail+1)); }
  done
  sa=$(sig "$T/full-$q-1.json") || exit 1
  sb=$(sig "$T/full-$q-2.json") || exit 1
  if [ "$sa" = "$sb" ]; then echo "ok   mlp $q full test set: threads 1 and 2 identical"; pass=$((pass+1))
  else echo "FAIL mlp $q full test set: threads 1 and 2 differ"; fail=$((fail+1)); fi
done
# run --frames: a clip whose frames all equal the input gives the static input's outputs, byte for
# byte (rate and delta coding; one session over the batch against the backend's shards)
VI=$ROOT/models/vit/sample_input.npy
hdr=$(( $(od -An -tu2 -j8 -N2 "$VI" | tr -d ' ') + 10 ))
nb=$(( $(stat -c %s "$VI") - hdr )); per=$(( nb / 4 ))
for m in vit vit-delta; do
  {
    h="{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3, 1, 28, 28), }"
    pad=$(( 64 - (10 + ${#h} + 1) % 64 ))
    printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#h} + pad + 1) % 256 )))\\x$(printf %02x $(( (${#h} + pad + 1) / 256 )))"
    printf '%s%*s\n' "$h" $pad ''
    for b in 0 1 2 3; do for f in 1 2 3; do tail -c +$(( hdr + b * per + 1 )) "$VI" | head -c $per; done; done
  } > "$T/clips.npy"
  "$BIN" run "$T/$m.sfm" --input "$VI" --timesteps 3 --quant int8 -o "$T/run-in" > /dev/null &&
    "$BIN" run "$T/$m.sfm" --frames "$T/clips.npy" --quant int8 -o "$T/run-fr" > /dev/null &&
    cmp -s "$T/run-in/output_0.npy" "$T/run-fr/output_0.npy" &&
    { echo "ok   $m run --frames (3 equal frames) = run --input --timesteps 3"; pass=$((pass+1)); } ||
    { echo "FAIL $m run --frames (3 equal frames) differs from run --input"; fail=$((fail+1)); }
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
