#!/usr/bin/env bash
# snn_paths.sh compares the runs' signatures (spikes per layer, accuracy per step) read from
# `eval --json`. If those keys were renamed, every signature was empty, every run matched the
# reference, and the script passed without comparing anything. Here a wrapper renames the keys in
# every JSON the real binary writes: snn_paths.sh must fail, naming the missing keys.
#   usage: tests/snn_paths_guard.sh SPIKEFORMER_BIN
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/renamed-keys" <<WRAP
#!/usr/bin/env bash
# the real spikeformer, then every --json file with its keys renamed
json=""
prev=""
for a in "\$@"; do [ "\$prev" = "--json" ] && json=\$a; prev=\$a; done
"$BIN" "\$@" || exit \$?
[ -n "\$json" ] && sed -i 's/"spikes_per_sample"/"spikes_each"/; s/"snn_accuracy_by_t"/"accuracy_per_step"/' "\$json"
exit 0
WRAP
chmod +x "$T/renamed-keys"
out=$(bash "$ROOT/tests/snn_paths.sh" "$T/renamed-keys" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q 'lacks "snn_accuracy_by_t" or "spikes_per_sample"' <<< "$out"; then
  echo "ok   snn_paths.sh fails when its keys are missing: $(grep -m1 FAIL <<< "$out")"
  echo "1 passed, 0 failed"
  exit 0
fi
echo "FAIL snn_paths.sh with renamed keys: exit status $rc (it must fail and name the keys)"
echo "$out" | tail -5
exit 1
