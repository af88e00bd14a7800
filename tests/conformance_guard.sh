#!/usr/bin/env bash
# onnx_conformance must not pass when it compared nothing: a case of a supported op that is refused
# at run time fails (it was counted as a skip), and fewer passing cases than --min-pass fail the run
# (it had no minimum: a harness that skipped every case passed).
#   usage: tests/conformance_guard.sh ONNX_CONFORMANCE_BIN
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
G=$ROOT/tests/data/conformance_guard
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
out=$("$BIN" "$G" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "FAIL test_range_runtime_bounds \[Range\]: refused at run time" <<< "$out"; then
  echo "ok   a case refused at run time fails the harness"; pass=$((pass+1))
else echo "FAIL a case refused at run time: exit $rc: $out"; fail=$((fail+1)); fi
echo "test_range_runtime_bounds known refusal (for this check)" > "$T/excl.txt"
out=$("$BIN" --exclusions "$T/excl.txt" --min-pass 1 "$G" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "fewer than the 1 required" <<< "$out"; then
  echo "ok   no passing case against --min-pass 1 fails the harness"; pass=$((pass+1))
else echo "FAIL --min-pass: exit $rc: $out"; fail=$((fail+1)); fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
