#!/usr/bin/env bash
# profile: per-layer counts and energy under every model in data/energy, the SNN/ANN ratio under
# the 45 nm convention, honest power-monitor status; a malformed energy model is refused.
#   usage: tests/cli_profile.sh SPIKEFORMER_BIN
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp.sfm" --neuron if --calib-samples 64 > /dev/null || exit 1
"$BIN" profile "$T/mlp.sfm" --timesteps 8 --limit 64 --json "$T/p.json" > "$T/out.txt" || { echo "FAIL profile"; cat "$T/out.txt"; exit 1; }
for key in '"energy_ratio_45nm"' '"energy_pj_per_sample"' '"45nm+memory"' '"loihi"' '"sources"' '"power_monitor"' '"macs_per_sample"'; do
  grep -q "$key" "$T/p.json" || { echo "FAIL: $key missing from the profile JSON"; fail=1; }
done
grep -q "Horowitz" "$T/p.json" || { echo "FAIL: sources not reported"; fail=1; }
# ComparisonFramework: the ANN beside the SNN at every T, energy ratios per model, measured times
grep -q "ANN vs SNN at every T" "$T/out.txt" && grep -q '"comparison"' "$T/p.json" && grep -q '"ann_seconds_per_sample"' "$T/p.json" ||
  { echo "FAIL: no ANN-vs-SNN comparison at every T"; fail=1; }
[ "$(awk '/ANN vs SNN at every T/{f=1; next} f && /^ +[0-9]+ /{n++} END{print n+0}' "$T/out.txt")" = "8" ] || { echo "FAIL: comparison table should have 8 rows (T=1..8)"; fail=1; }
grep -Eq "measured \(RAPL|measured energy: not available here, because" "$T/out.txt" || { echo "FAIL: no power-monitor status"; fail=1; }
# ANN energy under 45 nm = MACs * 4.6 pJ (MLP: 784*512 + 512*256 + 256*10 = 535040 MACs, no float ops)
awk '/^45nm /{ if ($3 < 2.456 || $3 > 2.466) { print "FAIL: ANN 45nm energy " $3 " uJ, expected 2.461 (535040 MACs x 4.6 pJ)"; exit 1 } }' "$T/out.txt" || fail=1
# int8: the time-major chain counts exactly what the step-major executor counts (under ASan in make test)
for sch in auto step; do
  "$BIN" profile "$T/mlp.sfm" --timesteps 40 --limit 70 --batch 32 --quant int8 --schedule $sch --json "$T/q-$sch.json" > /dev/null || { echo "FAIL: profile --quant int8 --schedule $sch"; fail=1; }
done
grep -q '"time-major"' "$T/q-auto.json" && [ "$(grep -E '"(synaptic_ops_per_sample|spikes_per_sample|snn_accuracy_by_t)"' "$T/q-auto.json")" = "$(grep -E '"(synaptic_ops_per_sample|spikes_per_sample|snn_accuracy_by_t)"' "$T/q-step.json")" ] ||
  { echo "FAIL: int8 time-major and step-major profiles differ"; fail=1; }
# binary-coded bursts: same accuracy at every T as the unary code (same sums), fewer synaptic
# operations, and the profile says which code it counted
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp-u.sfm" --neuron burst --burst-levels 8 --timesteps 2 --calib-samples 64 > /dev/null || exit 1
"$BIN" convert "$ROOT/models/mlp/model.onnx" -o "$T/mlp-b.sfm" --neuron burst --burst-levels 8 --timesteps 2 --burst-code binary --calib-samples 64 > "$T/conv-b.txt" || exit 1
grep -q "binary code" "$T/conv-b.txt" || { echo "FAIL: convert does not report the binary code"; fail=1; }
for c in u b; do "$BIN" profile "$T/mlp-$c.sfm" --timesteps 2 --limit 64 --json "$T/p-$c.json" > "$T/out-$c.txt" || { echo "FAIL: profile mlp-$c"; fail=1; }; done
grep -q '"burst_code":[[:space:]]*"binary"' "$T/p-b.json" && grep -q "popcount(k) weighted spikes" "$T/out-b.txt" || { echo "FAIL: binary code not reported"; fail=1; }
[ "$(grep -A3 '"snn_accuracy_by_t"' "$T/p-u.json")" = "$(grep -A3 '"snn_accuracy_by_t"' "$T/p-b.json")" ] || { echo "FAIL: binary and unary codes give different accuracy"; fail=1; }
ru=$(grep -o '"energy_ratio_45nm":[[:space:]]*[0-9.e+-]*' "$T/p-u.json" | grep -o '[0-9.e+-]*$'); rb=$(grep -o '"energy_ratio_45nm":[[:space:]]*[0-9.e+-]*' "$T/p-b.json" | grep -o '[0-9.e+-]*$')
awk -v u="$ru" -v b="$rb" 'BEGIN { exit !(b > 0 && b < u) }' || { echo "FAIL: binary code ($rb) should cost less than unary ($ru)"; fail=1; }
# eval times the ANN beside the spiking runs and says what one timestep costs against an ANN pass
"$BIN" eval "$T/mlp.sfm" --timesteps 4 --limit 64 --json "$T/e.json" > "$T/e.txt" || { echo "FAIL: eval"; fail=1; }
grep -q "of an ANN pass per timestep" "$T/e.txt" && grep -Eq '"ann_execute_seconds":[[:space:]]*[0-9]' "$T/e.json" || { echo "FAIL: eval does not time the ANN beside the SNN"; fail=1; }
"$BIN" eval "$T/mlp.sfm" --timesteps 4 --limit 64 --no-ann --json "$T/e0.json" > "$T/e0.txt" || { echo "FAIL: eval --no-ann"; fail=1; }
grep -q '"ann_execute_seconds":[[:space:]]*null' "$T/e0.json" && ! grep -q "ANN pass per timestep" "$T/e0.txt" || { echo "FAIL: eval --no-ann reports an ANN time"; fail=1; }
mkdir -p "$T/bad"; echo '{"name": "x", "pj": {"mac": 1}}' > "$T/bad/x.json"
if "$BIN" profile "$T/mlp.sfm" --limit 8 --energy-models "$T/bad" > /dev/null 2> "$T/err"; then echo "FAIL: model without sources accepted"; fail=1; fi
grep -q "sources" "$T/err" || { echo "FAIL: error does not name the missing sources"; fail=1; }
# an infinite cost (1e400 parses as inf) would make every total NaN
echo '{"name": "x", "sources": ["s"], "pj": {"mac": 1e400, "ac": 0.9}}' > "$T/bad/x.json"
if "$BIN" profile "$T/mlp.sfm" --limit 8 --energy-models "$T/bad" > /dev/null 2> "$T/err"; then echo "FAIL: infinite energy cost accepted"; fail=1; fi
grep -q "pj.mac must be a number from 0 to 1e6 picojoules" "$T/err" || { echo "FAIL: error does not name the bad cost: $(cat "$T/err")"; fail=1; }
# experiment tracking: an MLflow file store run with params and per-step metrics
"$BIN" profile "$T/mlp.sfm" --timesteps 4 --limit 32 --mlflow "$T/mlruns" > /dev/null || { echo "FAIL: profile --mlflow"; fail=1; }
run=$(ls -d "$T"/mlruns/0/*/ 2>/dev/null | head -1)
[ -f "$T/mlruns/0/meta.yaml" ] && grep -q "name: Default" "$T/mlruns/0/meta.yaml" || { echo "FAIL: experiment meta.yaml"; fail=1; }
[ -n "$run" ] && grep -q "status: 3" "$run/meta.yaml" || { echo "FAIL: run meta.yaml (FINISHED)"; fail=1; }
[ -n "$run" ] && [ "$(cat "$run/params/neuron" 2>/dev/null)" = "if" ] || { echo "FAIL: params/neuron"; fail=1; }
[ -n "$run" ] && [ "$(wc -l < "$run/metrics/snn_accuracy" 2>/dev/null)" = "4" ] && awk 'NF != 3 { exit 1 }' "$run/metrics/snn_accuracy" || { echo "FAIL: metrics/snn_accuracy (timestamp value step, one line per step)"; fail=1; }
[ -n "$run" ] && [ -f "$run/metrics/energy_ratio_45nm" ] || { echo "FAIL: metrics/energy_ratio_45nm"; fail=1; }
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
