#!/usr/bin/env bash
# Accuracy on the full 10,000-image Fashion-MNIST test set must equal PyTorch's to the image:
# the predictions of every shipped vision model, through every import route, are compared with
# the predictions PyTorch wrote (expected_preds.npy, int64 [10000]).
#   usage: tests/full_eval.sh SPIKEFORMER_BIN
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() {
  local name=$1 model=$2 ref=$3
  if ! "$BIN" eval "$model" --json "$T/e.json" --predictions "$T/p.npy" > "$T/out" 2>&1; then
    echo "FAIL $name: $(cat "$T/out")"; fail=$((fail+1)); return
  fi
  local acc; acc=$(grep -o '"accuracy":[^,]*' "$T/e.json")
  if cmp -s <(tail -c 80000 "$T/p.npy") <(tail -c 80000 "$ref"); then
    echo "ok   $name: $acc, all 10000 predictions equal PyTorch's"; pass=$((pass+1))
  else
    echo "FAIL $name: $acc, predictions differ from PyTorch's"; fail=$((fail+1))
  fi
}
check vit_onnx "$ROOT/models/vit/model.onnx" "$ROOT/models/vit/expected_preds.npy"
check vit_hf "$ROOT/models/vit/hf" "$ROOT/models/vit/expected_preds.npy"
check mlp_onnx "$ROOT/models/mlp/model.onnx" "$ROOT/models/mlp/expected_preds.npy"
check mlp_hf "$ROOT/models/mlp/hf" "$ROOT/models/mlp/expected_preds.npy"
for v in "$ROOT"/models/variants/*/; do
  n=$(basename "$v")
  check "$n" "$v/model.onnx" "$v/expected_preds.npy"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
