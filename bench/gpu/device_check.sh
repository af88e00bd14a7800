#!/usr/bin/env bash
# One-shot device check for a machine with an NVIDIA GPU (run from the repository root):
#
#   OUT=/some/dir bash bench/gpu/device_check.sh
#
# Writes to $OUT (default out/device_check/), at most 7 small files:
#   nvidia_smi.txt    nvidia-smi summary (table, CSV query, -q -d POWER,CLOCK,PERFORMANCE,...)
#   sysinfo.txt       id, uname, CPU, /sys/class/powercap listing + RAPL readability, versions
#   hf_check.json     bench/gpu/check_hf_transformers.py (fixtures vs real transformers)
#   gpu_ann.json      bench/gpu/torch_gpu_ann.py (ViT accuracy, GPU/CPU time and energy)
#   power_probe.json  the gpu_ann process's energy by SpikeFormer's PowerMonitor (NVML, RAPL)
#   summary.txt       exit code of every step
#   device_check.log  everything printed
# Each step runs even if an earlier one failed; the script exits with the largest step exit
# code (0 = everything passed). Usually 2-3 minutes; the step limits add up to 270 s.
# Local self-test without transformers/GPU (plain-torch stand-ins, short CPU windows):
#   PYTHON=/usr/bin/python3 HF_ARGS="--impl plain" ANN_ARGS="--impl plain --quick" \
#     OUT=/tmp/dc bash bench/gpu/device_check.sh
set -u
cd "$(dirname "$0")/../.." || exit 99
OUT="${OUT:-out/device_check}"
mkdir -p "$OUT" || exit 99
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
LOG="$OUT/device_check.log"
: >"$LOG"
declare -a NAMES=() CODES=() SECS=()

step() {  # step NAME TIMEOUT_S FILE CMD...: output to FILE, or (FILE "-") to the log and console
  local name="$1" lim="$2" file="$3"; shift 3
  local t0=$SECONDS rc
  local shown="$*"
  [ "${#shown}" -gt 200 ] && shown="(shell function)"
  if [ "$file" = "-" ]; then
    echo "=== $name: $shown (limit ${lim}s)" | tee -a "$LOG"
  else
    echo "=== $name: $shown (limit ${lim}s) -> $file" | tee -a "$LOG"
  fi
  if [ "$file" = "-" ]; then
    timeout -k 5 "$lim" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
  else
    timeout -k 5 "$lim" "$@" >"$file" 2>&1
    rc=$?
  fi
  [ "$rc" -eq 124 ] && echo "=== $name: TIMED OUT after ${lim}s" | tee -a "$LOG"
  echo "=== $name: exit $rc in $((SECONDS - t0))s" | tee -a "$LOG"
  NAMES+=("$name"); CODES+=("$rc"); SECS+=("$((SECONDS - t0))")
}

nvsmi() {
  if ! command -v nvidia-smi >/dev/null 2>&1; then echo "nvidia-smi: not found in PATH"; return 127; fi
  nvidia-smi || return $?
  echo
  nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,driver_version,pstate,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.max.sm,clocks.mem,memory.used,memory.total,persistence_mode,compute_mode,mig.mode.current --format=csv
  echo
  nvidia-smi -q -d POWER,CLOCK,PERFORMANCE,TEMPERATURE,COMPUTE | head -n 160
}

sysinfo() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "id: $(id)"
  echo "uname: $(uname -a)"
  echo "nproc: $(nproc)"
  (lscpu 2>/dev/null || grep -m1 'model name' /proc/cpuinfo) | grep -v '^Flags' | head -n 24
  echo "git HEAD: $(git rev-parse HEAD 2>&1 | head -n 1)"
  echo
  echo "--- ls -la /sys/class/powercap"
  ls -la /sys/class/powercap 2>&1
  for d in /sys/class/powercap/intel-rapl:*; do
    [ -e "$d" ] || continue
    echo "--- $d"
    ls -la "$d/" 2>&1 | head -n 20
    echo "name: $(cat "$d/name" 2>&1)"
    echo "energy_uj: $(cat "$d/energy_uj" 2>&1)"
  done
  echo "--- mounts (sysfs)"
  grep -E ' /sys[ /]' /proc/mounts 2>&1 | head -n 5
  echo
  echo "--- python"
  command -v "$PY"
  "$PY" - <<'EOF' 2>&1
import importlib, sys
print("python", sys.version.split()[0])
for m in ("torch", "transformers", "safetensors", "numpy", "onnx", "onnxruntime", "pynvml"):
    try:
        mod = importlib.import_module(m)
        print(m, getattr(mod, "__version__", "(no __version__)"))
    except Exception as e:
        print(m, "IMPORT FAILED:", type(e).__name__, e)
try:
    import torch
    print("cuda available", torch.cuda.is_available(), "cuda", torch.version.cuda,
          "devices", torch.cuda.device_count())
except Exception as e:
    print("torch cuda query failed:", e)
EOF
}

T0=$SECONDS
step nvidia_smi 30 "$OUT/nvidia_smi.txt" bash -c "$(declare -f nvsmi); nvsmi"
step sysinfo 30 "$OUT/sysinfo.txt" env PY="$PY" bash -c "$(declare -f sysinfo); sysinfo"
step hf_check 60 - "$PY" bench/gpu/check_hf_transformers.py ${HF_ARGS:-} --out "$OUT/hf_check.json"
# SpikeFormer's own PowerMonitor (src/energy/power_monitor.c: RAPL + NVML) measures the whole
# GPU/CPU benchmark process from outside, beside the script's own NVML readings
step power_probe_build 30 - cc -std=c11 -O2 -Iinclude -Isrc bench/gpu/power_probe.c src/energy/power_monitor.c -ldl -o /tmp/power_probe
PROBE=()
[ -x /tmp/power_probe ] && PROBE=(/tmp/power_probe -o "$OUT/power_probe.json")
step gpu_ann 150 - "${PROBE[@]}" "$PY" bench/gpu/torch_gpu_ann.py ${ANN_ARGS:---impl transformers --require-cuda} --out "$OUT/gpu_ann.json"

worst=0
for c in "${CODES[@]}"; do [ "$c" -gt "$worst" ] && worst=$c; done
{
  echo "device_check summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), total $((SECONDS - T0))s)"
  for i in "${!NAMES[@]}"; do
    printf '  %-11s exit %-4s %4ss\n' "${NAMES[$i]}" "${CODES[$i]}" "${SECS[$i]}"
  done
  if [ -f "$OUT/gpu_ann.json" ]; then
    "$PY" - "$OUT/gpu_ann.json" <<'EOF' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
r = d.get("reference_accuracy")
if r:
    print("  ViT reference accuracy (CPU): %s/10000 = %s%% (model impl %s)"
          % (r.get("correct"), r.get("accuracy_pct"), (d.get("model") or {}).get("impl")))
for sec in ("gpu", "cpu"):
    for x in (d.get(sec) or {}).get("runs", []):
        tag = "%s %s" % (sec.upper(), x.get("attn_implementation") or "%sthr" % x.get("threads"))
        jpi = x.get("j_per_image"); jai = x.get("j_per_image_above_idle")
        print("  %-12s batch %5d: %8.3f us/image  %s J/image  %s J/image above idle  acc %s%%" % (
            tag, x["batch"], 1e6 * x["s_per_image"],
            "%.3e" % jpi if jpi is not None else "n/a", "%.3e" % jai if jai is not None else "n/a",
            x.get("accuracy_pct")))
for k, v in d.get("unavailable", {}).items():
    print("  unavailable %s: %s" % (k, v))
for f in d.get("failures", []):
    print("  FAILURE: %s" % f)
EOF
  fi
  if [ -f "$OUT/hf_check.json" ]; then
    "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print('  hf_check ok=%s failed=%s' % (d['ok'], d['failed']))" "$OUT/hf_check.json" 2>&1
  fi
  echo "  overall exit $worst"
} | tee "$OUT/summary.txt" | tee -a "$LOG"
ls -la "$OUT"
exit "$worst"
