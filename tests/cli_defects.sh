#!/usr/bin/env bash
# Defects found while reading the code (issue 16), each checked where it showed:
#   - a model of constants only takes no input, and `run` must run it (it refused: "no --input given")
#   - eval, profile, optimize and report on a model with more than 8 outputs (they kept the ANN's
#     outputs in arrays of 8, and sf_session_run writes every output: a stack overflow under ASan)
#   usage: tests/cli_defects.sh SPIKEFORMER_BIN
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { # NAME -- command... : exit status 0 and no sanitizer report
  local name=$1; shift 2
  if "$@" > "$T/out" 2> "$T/err" && ! grep -q "AddressSanitizer\|runtime error" "$T/err"; then echo "ok   $name"; pass=$((pass+1))
  else echo "FAIL $name: $(tail -3 "$T/err")"; fail=$((fail+1)); fi
}
check "run a model of constants (no inputs)" -- "$BIN" run "$ROOT/tests/data/constants_only.onnx" -o "$T/c"
# [[1,2],[3,4]] + [[10,20],[30,40]]: the float32 values 11 22 33 44 after the .npy header
if [ -f "$T/c/output_0.npy" ] && [ "$(tail -c 16 "$T/c/output_0.npy" | od -An -tf4 | tr -s ' ' | sed 's/^ //;s/ $//')" = "11 22 33 44" ]; then
  echo "ok   its output is a + b"; pass=$((pass+1))
else echo "FAIL constants_only output: $(od -An -tf4 "$T/c/output_0.npy" 2>&1 | tail -1)"; fail=$((fail+1)); fi
M=$ROOT/tests/data/many_outputs.onnx
check "eval an ANN with 12 outputs" -- "$BIN" eval "$M" --limit 64
check "convert it" -- "$BIN" convert "$M" -o "$T/m.sfm" --calib-samples 32 --neuron if
check "eval it as an SNN beside the ANN" -- "$BIN" eval "$T/m.sfm" --limit 64 --timesteps 4
check "profile it" -- "$BIN" profile "$T/m.sfm" --limit 32 --timesteps 2
check "report on it" -- "$BIN" report "$T/m.sfm" --limit 32 --timesteps 2 -o "$T/r.html"
check "optimize it" -- "$BIN" optimize "$M" --max-drop 100 --limit 40 --test-limit 40 --tmax 2 -o "$T/o.sfm"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
