#!/usr/bin/env bash
# The HTML report renders in headless Chromium (Debian's chromium) with no console errors, loads
# nothing from the network, and every chart is there and drawn.
#   usage: tests/report_chromium.sh SPIKEFORMER_BIN [SCREENSHOT.png]
set -u
BIN=$1
SHOT=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { echo "FAIL: chromium is not installed (scripts/install-deps.sh installs it)"; exit 1; }
"$BIN" optimize "$ROOT/models/mlp/model.onnx" --max-drop 0.5 --limit 200 --test-limit 500 --tmax 8 -o "$T/mlp.sfm" --json "$T/opt.json" > "$T/opt.txt" || exit 1
grep -q "hand-picked" "$T/opt.txt" && grep -q "\"optimized_energy_ratio\"" "$T/opt.json" && grep -q "\"sites_raised\"" "$T/opt.json" || { echo "FAIL: optimize did not report the test set beside the hand-picked default"; exit 1; }
"$BIN" report "$T/mlp.sfm" --timesteps 8 --limit 200 --optimize "$T/opt.json" -o "$T/report.html" > /dev/null || exit 1
fail=0
if grep -Eq '(src|href)="(https?:)?//' "$T/report.html"; then echo "FAIL: the report references the network"; fail=1; fi
flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync"
timeout 120 "$CHROMIUM" $flags --user-data-dir="$T/prof" --enable-logging=stderr --v=0 --dump-dom "file://$T/report.html" > "$T/dom.html" 2> "$T/console.txt"
if grep -E "CONSOLE|Uncaught|SyntaxError" "$T/console.txt" | grep -qiv "dbus"; then echo "FAIL: console messages:"; grep -E "CONSOLE|Uncaught" "$T/console.txt"; fail=1; fi
for id in chart-accuracy chart-firing chart-energy-layers chart-energy-models chart-raster chart-pareto; do
  if ! grep -q "id=\"$id\"" "$T/dom.html"; then echo "FAIL: chart $id missing from the rendered page"; fail=1; continue; fi
  # the chart has drawn marks (polyline / rect / circle) inside its svg
  body=$(awk -v id="$id" 'index($0, "id=\"" id "\"") {on=1} on {print} on && /<\/svg>/ {exit}' "$T/dom.html")
  echo "$body" | grep -Eq "<(polyline|rect|circle)" || { echo "FAIL: chart $id is empty"; fail=1; }
done
if [ -n "$SHOT" ]; then
  timeout 120 "$CHROMIUM" $flags --user-data-dir="$T/prof2" --window-size=1000,2800 --screenshot="$SHOT" "file://$T/report.html" 2> /dev/null > /dev/null
fi
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
