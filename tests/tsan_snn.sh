#!/usr/bin/env bash
# The spiking runtime's threaded code under ThreadSanitizer, with OpenMP understood (no false reports).
#
# Builds BUILD_DIR (default build-tsan) with -DSF_TSAN=ON: clang -fsanitize=thread -fopenmp=libomp
# -O1 -g, LLVM's libomp instead of GCC's libgomp (TSan cannot see libgomp's barriers and locks, so
# every OpenMP region gives false reports), the pthread OpenBLAS (the OpenMP build pulls libgomp in),
# and tests/tsan_blas.c in the library (TSan ignores OpenBLAS's internal lock, which otherwise orders
# any two threads that call BLAS and hides races between them; OPENBLAS_NUM_THREADS holds). Every
# process runs with OMP_TOOL_LIBRARIES=libarcher.so: Archer, LLVM's OMPT tool, tells TSan about the
# happens-before of OpenMP's forks, joins, barriers, reductions, locks and tasks. Runs, with
# OMP_NUM_THREADS=2 and OPENBLAS_NUM_THREADS=1 (the threads are libomp's and ours):
#   - tests/test_snn, the whole binary: the kernels' parallel loops on 2 threads (mlp_snn, cnn_snn,
#     vit_snn run one session over 400 samples), dynamic_batching (the batcher on the CPU backend),
#     the time-major chain, delta coding...;
#   - the CLI on the shipped models through the CPU backend's batch shards on 2 threads (300
#     samples: several shards, sessions taken under the deployment's omp_lock_t, int8 weight
#     tables shared read-only from the donor session): convert models/mlp (--neuron if) and
#     models/vit (--calib-samples 64: calibration's parallel loops); eval --limit 300 --batch 300
#     --timesteps 4 --threads 2 as float, --quant int8 (the MLP: a time-major chain) and --quant
#     int8 --schedule step, and with --encoding rate (the batch stays whole: one session whose
#     kernels' loops use the threads); run --frames on 256 clips of 3 changing frames (float and
#     int8); report (profile counters merged from every session, a raster recorded on session 0
#     while the other shards run).
# Each run at SF_ISA=c and at SF_ISA=native (ISAS="c native"): clang's TSan instruments accesses of
# at most 16 bytes, so the AVX2/AVX-512 kernels' 32- and 64-byte loads and stores are invisible to
# it; the portable C kernels are seen whole. About 4 to 5 minutes on two cores after the build
# (test_snn: about 2 minutes at c, 30 s at native; a first build of the library: a few minutes).
# Each process must print Archer's start-up line (ARCHER_OPTIONS=verbose=1), no binary may link
# libgomp and every BLAS call must go through the wrapper, or the run fails: a verdict without
# them would be meaningless.
# Verdict: the number of TSan reports (data races, lock-order inversions, ...) over all the runs; any
# report, a failing command or a missing Archer fails the script. The reports are kept in
# BUILD_DIR/tsan-snn/ (tsan.PID files, named in the log).
#
# Harness self-check (done by hand when this script was written, nothing of it committed; LLVM 14,
# 2 threads, these settings):
#   - races are reported: an unsynchronised `shared++` in an "omp parallel for" (a tiny program): 1
#     report; `reduction(+ : events)` removed from the two parallel loops of src/snn/spike_kernels.c's
#     event-driven kernels: reported by test_snn and the MLP's rate-coded eval at c and native; the
#     omp_set_lock/omp_unset_lock around `d->busy[si] = 0` in src/backend/cpu_backend.c's run_batch
#     removed (the session pool): reported by the MLP's sharded evals and run --frames;
#   - no false reports: a clean OpenMP program (a reduction, data written in one region and read by
#     the other thread in the next and by the main thread after it, a lock-guarded counter) gives 0
#     reports with libomp + Archer, 4 with Archer off (OMP_TOOL=disabled: libomp's barriers are
#     invisible to TSan) and 10 built with gcc -fopenmp (libgomp); on the library itself, eval of
#     the MLP (sharded) and of the ViT (rate coding) give 46 and 92 reports with Archer off, 0 with it;
#   - OpenBLAS: a race between two OpenMP threads that each call cblas_sgemm went unreported
#     (3 runs of 3) without tests/tsan_blas.c's wrapper, and is reported with it.
# Limit: TSan reports a race only while the earlier access is still in the other thread's history
# (history_size=7, the most: about 4M memory accesses per thread); a race between accesses a whole
# shard apart (the session pool's hand-over) shows in the MLP's short shards at native, not in the
# ViT's or at SF_ISA=c, where a shard makes more accesses than that. Races inside a step (kernels,
# shared tables, scratch buffers) are close together and seen everywhere.
# (libomp 14 loads libarcher.so from its own directory when OMP_TOOL_LIBRARIES is unset; the
# script names it anyway and checks that it is active.)
# Not part of `make test`: a separate instrumented build of the library.
#   usage: tests/tsan_snn.sh [BUILD_DIR]        (ISAS="c" or "native" to run one level only)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build-tsan}
ISAS=${ISAS:-c native}
LLVM_LIB=${LLVM_LIB:-/usr/lib/llvm-14/lib}
ARCHER=$LLVM_LIB/libarcher.so
[ -f "$ARCHER" ] || { echo "FAIL: $ARCHER not found (Debian: libomp-14-dev)"; exit 1; }
t_start=$(date +%s)

echo "== build $B (SF_TSAN: clang, ThreadSanitizer, libomp, pthread OpenBLAS)"
mkdir -p "$B"
# (the flags tests/tsan_isa.sh gives too, redundant with SF_TSAN's: the two scripts share build-tsan
# and neither then rebuilds the other's)
cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DSF_TSAN=ON \
  -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread > "$B/tsan-snn-cmake.log" 2>&1 ||
  { cat "$B/tsan-snn-cmake.log"; echo "FAIL: cmake"; exit 1; }
cmake --build "$B" -j "$(nproc)" --target spikeformer_cli test_snn > "$B/tsan-snn-build.log" 2>&1 ||
  { tail -40 "$B/tsan-snn-build.log"; echo "FAIL: build"; exit 1; }
CLI=$B/spikeformer
TEST=$B/tests/test_snn
for bin in "$CLI" "$TEST"; do
  libs=$(ldd "$bin")
  if grep -q libgomp <<< "$libs" || ! grep -q "libomp.so" <<< "$libs" || ! grep -q "openblas-pthread" <<< "$libs"; then
    echo "$libs"; echo "FAIL: $bin must link libomp and the pthread OpenBLAS, and not libgomp"; exit 1
  fi
done
# every BLAS call must go through tests/tsan_blas.c's wrapper (TSan ignores OpenBLAS's lock there)
blas=$(nm -D --undefined-only "$B/libspikeformer.so" | awk '{print $2}' | grep -E '^(cblas_|[sdcz](gemm|gemv|axpy|dot)_?$)' | sort | tr '\n' ' ')
if [ "$blas" != "cblas_sgemm " ] || [ "$(nm "$B/libspikeformer.so" "$TEST" | grep -c ' __wrap_cblas_sgemm$')" -ne 2 ]; then
  echo "FAIL: the library calls BLAS functions [$blas] but tests/tsan_blas.c wraps cblas_sgemm only: wrap the others"; exit 1
fi

R=$B/tsan-snn
rm -rf "$R"; mkdir -p "$R"
export OMP_TOOL_LIBRARIES=$ARCHER ARCHER_OPTIONS="verbose=1" OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1
export TSAN_OPTIONS="ignore_noninstrumented_modules=1 history_size=7 log_path=$R/tsan"
# (TSan in clang 14 cannot run where the kernel randomises mmap with more bits: then without ASLR)
PRE=()
if ! "$CLI" version > "$R/probe.log" 2>&1 && grep -q "unexpected memory mapping" "$R/probe.log" "$R"/tsan.* 2> /dev/null; then
  PRE=(setarch "$(uname -m)" -R)
  echo "(ASLR off: TSan cannot map its shadow with this kernel's mmap randomisation)"
fi
rm -f "$R"/tsan.* "$R/probe.log"

runs=0; failed=0
# run NAME CMD...: one process; the reports it wrote go to $R/tsan.PID
run() {
  local name=$1; shift
  local log="$R/$name.log" t0=$SECONDS rc=0 before after
  before=$(ls "$R" | grep -c '^tsan\.' || true)
  "${PRE[@]}" "$@" > "$log" 2>&1 || rc=$?
  after=$(ls "$R" | grep -c '^tsan\.' || true)
  runs=$((runs + 1))
  local msg=""
  grep -q "Archer detected OpenMP application with TSan" "$log" || msg="Archer was not active"
  [ "$after" -gt "$before" ] && msg="${msg:+$msg; }ThreadSanitizer reports"
  [ $rc -ne 0 ] && msg="${msg:+$msg; }exit $rc"
  if [ -n "$msg" ]; then
    failed=$((failed + 1)); echo "FAIL $name ($((SECONDS - t0))s): $msg (log: $log)"
  else echo "ok   $name ($((SECONDS - t0))s)"; fi
}

# 256 clips of 3 frames each (frame f of clip b: sample (b + f) % 4 of the 4-sample input), .npy
make_clips() {  # IN.npy OUT.npy
  local in=$1 out=$2 hdr nb per h pad
  hdr=$(( $(od -An -tu2 -j8 -N2 "$in" | tr -d ' ') + 10 ))
  nb=$(( $(stat -c %s "$in") - hdr )); per=$(( nb / 4 ))
  h="{'descr': '<f4', 'fortran_order': False, 'shape': (256, 3, 1, 28, 28), }"
  pad=$(( 64 - (10 + ${#h} + 1) % 64 ))
  {
    printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#h} + pad + 1) % 256 )))\\x$(printf %02x $(( (${#h} + pad + 1) / 256 )))"
    printf '%s%*s\n' "$h" $pad ''
  } > "$out"
  for b in 0 1 2 3; do for f in 0 1 2; do tail -c +$(( hdr + ((b + f) % 4) * per + 1 )) "$in" | head -c $per; done; done > "$out.block"
  for _ in $(seq 64); do cat "$out.block"; done >> "$out"
  rm -f "$out.block"
}

M=$R/models
mkdir -p "$M"
echo "== convert (calibration's parallel loops)"
run convert-mlp "$CLI" convert "$ROOT/models/mlp/model.onnx" -o "$M/mlp.sfm" --neuron if --calib-samples 64 --threads 2
run convert-vit "$CLI" convert "$ROOT/models/vit/model.onnx" -o "$M/vit.sfm" --calib-samples 64 --threads 2
[ -f "$M/mlp.sfm" ] && [ -f "$M/vit.sfm" ] || { echo "FAIL: conversion failed, nothing to run"; exit 1; }
for m in mlp vit; do make_clips "$ROOT/models/$m/sample_input.npy" "$M/$m-clips.npy"; done

for isa in $ISAS; do
  export SF_ISA=$isa
  echo "== SF_ISA=$isa: tests/test_snn (all tests, OpenMP on 2 threads)"
  run "test_snn-$isa" "$TEST"
  echo "== SF_ISA=$isa: the CLI through the CPU backend's batch shards on 2 threads"
  for m in mlp vit; do
    E=(eval "$M/$m.sfm" --limit 300 --batch 300 --timesteps 4 --threads 2)
    run "eval-$m-float-$isa" "$CLI" "${E[@]}" --json "$R/eval-$m-float-$isa.json"
    run "eval-$m-int8-$isa" "$CLI" "${E[@]}" --quant int8 --json "$R/eval-$m-int8-$isa.json"
    run "eval-$m-int8-step-$isa" "$CLI" "${E[@]}" --quant int8 --schedule step --json "$R/eval-$m-int8-step-$isa.json"
    # rate coding keeps the batch whole: one session whose kernels' loops use the 2 threads
    run "eval-$m-rate-float-$isa" "$CLI" "${E[@]}" --encoding rate --no-ann
    run "eval-$m-rate-int8-$isa" "$CLI" "${E[@]}" --encoding rate --quant int8 --no-ann
    for q in float int8; do
      run "run-frames-$m-$q-$isa" "$CLI" run "$M/$m.sfm" --frames "$M/$m-clips.npy" --quant $q --threads 2 -o "$R/run-$m-$q-$isa"
    done
    run "report-$m-$isa" "$CLI" report "$M/$m.sfm" -o "$R/report-$m-$isa.html" --limit 300 --timesteps 4 --threads 2
  done
done
unset SF_ISA

reports=$(cat "$R"/tsan.* 2> /dev/null | grep -c "WARNING: ThreadSanitizer" || true)
if [ "$reports" -gt 0 ]; then
  echo "== reports"
  for f in "$R"/tsan.*; do
    echo "-- $f"; grep -E "WARNING: ThreadSanitizer|^SUMMARY" "$f"
  done
fi
echo "ThreadSanitizer (libomp + Archer, 2 threads, SF_ISA: $ISAS): $runs runs, $failed failed, $reports reports ($(( $(date +%s) - t_start ))s)"
[ "$failed" -eq 0 ] && [ "$reports" -eq 0 ]
