#!/usr/bin/env bash
# Data-parallel training and evaluation over MPI (dist.h), 2 ranks x 1 thread against 1 process x 1
# thread, the same global batch:
#  - train: the same loss curve within 2% per epoch (the mean gradient of each batch is the same sum
#    in another order; float rounding moves a membrane across its threshold now and then, so the two
#    runs drift apart like runs with another rounding, not like runs with another seed); the JSON says
#    world_size 2; the saved model evaluates to the test accuracy printed;
#  - eval: the same accuracy after every step and the same synaptic operations (counts summed over
#    the ranks' shares of the images);
#  - an error on the ranks ends the run (no rank left waiting) with a non-zero status.
#   usage: tests/train_mpi.sh SPIKEFORMER_BIN
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN="timeout 300 mpirun --oversubscribe -np 2"
fail=0
ARGS=(train "$ROOT/models/mlp/model.onnx" --mode direct --init random --epochs 3 --limit 4000 --val 1000 --batch 100 --test-limit 2000 --threads 1)
"$BIN" "${ARGS[@]}" -o "$T/one.sfm" --json "$T/one.json" > "$T/one.txt" 2>&1 || { echo "FAIL: 1-process training"; cat "$T/one.txt"; exit 1; }
$MPIRUN "$BIN" "${ARGS[@]}" -o "$T/two.sfm" --json "$T/two.json" > "$T/two.txt" 2>&1 || { echo "FAIL: 2-rank training"; cat "$T/two.txt"; exit 1; }
cat "$T/two.txt"
grep -q "2 ranks x 1 threads" "$T/two.txt" || { echo "FAIL: the 2-rank run does not say it ran on 2 ranks"; fail=1; }
[ "$(grep -c '^ *[0-9]' "$T/two.txt")" -ge 3 ] || { echo "FAIL: rank 1 printed too, or rank 0 printed no table"; fail=1; }
/usr/bin/python3 - "$T/one.json" "$T/two.json" <<'PY' || fail=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["world_size"] == 1 and b["world_size"] == 2, (a["world_size"], b["world_size"])
worst = 0.0
for x, y in zip(a["epochs"], b["epochs"]):
    rel = abs(x["train_loss"] - y["train_loss"]) / x["train_loss"]
    worst = max(worst, rel)
    print(f"epoch {x['epoch']}: loss 1 process {x['train_loss']:.4f}, 2 ranks {y['train_loss']:.4f} ({100 * rel:.2f}%), "
          f"seconds {x['seconds']:.2f} vs {y['seconds']:.2f}")
assert len(a["epochs"]) == len(b["epochs"]) == 3
if worst > 0.02:
    print(f"FAIL: the loss curves differ by {100 * worst:.2f}% (tolerance 2%)")
    sys.exit(1)
print(f"test accuracy: 1 process {a['test_accuracy']:.4f}, 2 ranks {b['test_accuracy']:.4f}")
PY
# the 2-rank model in the runtime: the accuracy the run printed
"$BIN" eval "$T/two.sfm" --limit 2000 --no-ann --json "$T/e.json" > /dev/null 2>&1 || { echo "FAIL: eval of the 2-rank model"; fail=1; }
/usr/bin/python3 -c "
import json, sys
t = json.load(open('$T/two.json'))['test_accuracy']; e = json.load(open('$T/e.json'))['snn_accuracy_by_t'][-1]
sys.exit(0 if abs(t - e) < 1e-9 else print('FAIL: trained', t, 'evaluated', e) or 1)" || fail=1
# eval sharded over 2 ranks: the same figures
"$BIN" eval "$T/one.sfm" --limit 3000 --threads 1 --json "$T/e1.json" > /dev/null 2>&1 || { echo "FAIL: eval"; fail=1; }
$MPIRUN "$BIN" eval "$T/one.sfm" --limit 3000 --threads 1 --json "$T/e2.json" > /dev/null 2>&1 || { echo "FAIL: 2-rank eval"; fail=1; }
/usr/bin/python3 - "$T/e1.json" "$T/e2.json" <<'PY' || fail=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["snn_accuracy_by_t"] == b["snn_accuracy_by_t"], "accuracy by step differs"
assert a["ann_accuracy"] == b["ann_accuracy"], "ANN accuracy differs"
for k in ("synaptic_ops_per_sample", "spikes_per_sample", "firing_rate"):
    if k in a:
        assert abs(a[k] - b[k]) <= 1e-9 * max(1.0, abs(a[k])), (k, a[k], b[k])
print("eval on 2 ranks: the same accuracy at every step, synaptic operations and spikes as 1 process")
PY
# Python under mpirun: sf.distributed() joins the run; both ranks end with the same figures
cat > "$T/dist.py" <<'PY'
import json, sys
import spikeformer as sf
w = sf.distributed()
sf.set_threads(1)
snn, doc = sf.train(sys.argv[1], data=sys.argv[2], mode="direct", init="random", epochs=1, limit=2000, val_images=500, batch=100, test_limit=500)
print(json.dumps({"rank": w["rank"], "size": w["size"], "world_size": doc["world_size"], "loss": doc["epochs"][0]["train_loss"], "test": doc["test_accuracy"]}))
PY
SPIKEFORMER_LIB="$(dirname "$BIN")/libspikeformer.so" PYTHONPATH="$ROOT/python" $MPIRUN /usr/bin/python3 "$T/dist.py" "$ROOT/models/mlp/model.onnx" /usr/share/datasets/fashion-mnist > "$T/py.txt" 2>&1 ||
  { echo "FAIL: Python under mpirun"; cat "$T/py.txt"; fail=1; }
/usr/bin/python3 - "$T/py.txt" <<'PY' || fail=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert sorted(r["rank"] for r in rows) == [0, 1] and all(r["size"] == 2 and r["world_size"] == 2 for r in rows), rows
assert rows[0]["loss"] == rows[1]["loss"] and rows[0]["test"] == rows[1]["test"], rows
print(f"Python on 2 ranks: loss {rows[0]['loss']:.4f}, test {rows[0]['test']:.4f} on both")
PY
# the ViT (hybrid, through its spiking form) on 2 ranks x 1 thread against 1 process: the same loss
# curve within 2%, world_size 2
VARGS=(train "$ROOT/models/vit/hf" --timesteps 2 --epochs 2 --limit 512 --val 200 --batch 64 --calib-samples 64 --test-limit 500 --threads 1)
"$BIN" "${VARGS[@]}" -o "$T/v1.sfm" --json "$T/v1.json" > "$T/v1.txt" 2>&1 || { echo "FAIL: 1-process ViT training"; cat "$T/v1.txt"; fail=1; }
$MPIRUN "$BIN" "${VARGS[@]}" -o "$T/v2.sfm" --json "$T/v2.json" > "$T/v2.txt" 2>&1 || { echo "FAIL: 2-rank ViT training"; cat "$T/v2.txt"; fail=1; }
/usr/bin/python3 - "$T/v1.json" "$T/v2.json" <<'PY' || fail=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["world_size"] == 1 and b["world_size"] == 2, (a["world_size"], b["world_size"])
worst = max(abs(x["train_loss"] - y["train_loss"]) / x["train_loss"] for x, y in zip(a["epochs"], b["epochs"]))
for x, y in zip(a["epochs"], b["epochs"]):
    print(f"ViT epoch {x['epoch']}: loss 1 process {x['train_loss']:.4f}, 2 ranks {y['train_loss']:.4f}, validation {x['val_accuracy']:.4f} vs {y['val_accuracy']:.4f}")
assert len(a["epochs"]) == len(b["epochs"]) == 2
if worst > 0.02:
    print(f"FAIL: the ViT's loss curves differ by {100 * worst:.2f}% (tolerance 2%)")
    sys.exit(1)
print(f"ViT test accuracy: 1 process {a['test_accuracy']:.4f}, 2 ranks {b['test_accuracy']:.4f}")
PY
# an error on every rank: a clear message, a non-zero status, no hang
$MPIRUN "$BIN" train "$ROOT/models/vit/model.onnx" -o "$T/x.sfm" --limit 64 --val 0 --epochs 1 > "$T/err.txt" 2>&1
rc=$?
{ [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "cannot be trained" "$T/err.txt" && [ ! -e "$T/x.sfm" ]; } || { echo "FAIL: 2-rank error (status $rc)"; cat "$T/err.txt"; fail=1; }
[ $fail = 0 ] && echo "train_mpi: OK"
exit $fail
