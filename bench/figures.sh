#!/usr/bin/env bash
# The deterministic figures of the shipped ViT and MLP as SNNs: accuracy after every timestep,
# per-layer spikes, synaptic operations, MACs and float evaluations, for the conversions and
# runtime options the docs quote. Times are dropped, so two builds can be compared with diff:
#   bash bench/figures.sh build/spikeformer OUTDIR [LIMIT]
# (a refactoring must leave OUTDIR byte for byte the same; float runs on another CPU may round
# differently, so compare on one machine).
set -euo pipefail
BIN=$1; OUT=$2; LIMIT=${3:-2000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
conv() { "$BIN" convert "$ROOT/models/$1/model.onnx" -o "$T/$2.sfm" --json "$T/$2.convert.json" "${@:3}" > /dev/null; }
conv vit vit-burst4
conv vit vit-delta --coding delta
conv mlp mlp-if --neuron if
conv mlp mlp-burst --neuron burst
norm() { /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if 'second' not in k and k not in ('model', 'output', 'peak_rss_kib', 'power_monitor', 'convert_seconds')}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
json.dump(strip(d), open(sys.argv[2], 'w'), indent=1, sort_keys=True)
PY
}
for m in vit-burst4 vit-delta mlp-if mlp-burst; do norm "$T/$m.convert.json" "$OUT/$m.convert.json"; done
ev() { local m=$1 tag=$2; shift 2; "$BIN" eval "$T/$m.sfm" --limit "$LIMIT" --json "$T/e.json" "$@" > /dev/null; norm "$T/e.json" "$OUT/$m.$tag.eval.json"; }
ev vit-burst4 float --timesteps 8
ev vit-burst4 int8 --timesteps 8 --quant int8
ev vit-delta int8 --timesteps 8 --quant int8
ev vit-delta float --timesteps 8
ev mlp-if float --timesteps 32
ev mlp-if int8 --timesteps 32 --quant int8
ev mlp-burst int8 --timesteps 16 --quant int8
"$BIN" profile "$T/vit-burst4.sfm" --limit 500 --timesteps 4 --json "$T/p.json" > /dev/null; norm "$T/p.json" "$OUT/vit-burst4.profile.json"
"$BIN" profile "$T/mlp-if.sfm" --limit 500 --timesteps 16 --json "$T/p.json" > /dev/null; norm "$T/p.json" "$OUT/mlp-if.profile.json"
"$BIN" eval "$ROOT/models/vit/model.onnx" --limit "$LIMIT" --json "$T/a.json" > /dev/null; norm "$T/a.json" "$OUT/vit.ann.eval.json"
"$BIN" analyze "$ROOT/models/vit/model.onnx" --json "$T/a.json" > /dev/null; norm "$T/a.json" "$OUT/vit.analyze.json"
echo "figures in $OUT: $(ls "$OUT" | wc -l) files"
