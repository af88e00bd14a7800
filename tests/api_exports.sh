#!/usr/bin/env bash
# The shared library exports exactly the functions include/spikeformer/ declares (SF_API): nothing
# of its internals (kernels, passes, the ONNX parser), and nothing declared is missing. And the CLI,
# a front end like any other, is compiled against those headers only (no -I src).
#   usage: tests/api_exports.sh LIBSPIKEFORMER_SO CLI_FLAGS_FILE
set -u
SO=$1
FLAGS=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
# (clang's OpenMP lowering of some reductions adds a lock variable, .gomp_critical_user_.reduction.var,
# with default visibility: compiler plumbing, not an API symbol; gcc's does not)
nm -D --defined-only "$SO" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^\.gomp_critical_user_' | sort -u > "$T/exported"
# every SF_API declaration: the identifier before the '(' (declarations may span lines)
ls "$ROOT"/include/spikeformer/*.h | grep -v /export.h | xargs cat | tr '\n' ' ' | grep -o 'SF_API [^;(]*(' | sed 's/($//; s/.*[ *]\([A-Za-z_][A-Za-z0-9_]*\)$/\1/' | sort -u > "$T/declared"
extra=$(comm -23 "$T/exported" "$T/declared")
missing=$(comm -13 "$T/exported" "$T/declared")
n=$(wc -l < "$T/exported")
if [ -n "$extra" ]; then echo "FAIL exported but not declared in include/spikeformer/:"; echo "$extra" | sed 's/^/  /'; fail=1; fi
if [ -n "$missing" ]; then echo "FAIL declared but not exported:"; echo "$missing" | sed 's/^/  /'; fail=1; fi
[ $fail -eq 0 ] && echo "ok   $(basename "$SO") exports exactly the $n functions of include/spikeformer/ (nm -D)"
if grep -v '^ *sf_\|^$' "$T/exported" | grep -q .; then echo "FAIL exported names without the sf_ prefix"; fail=1; fi
if [ -n "$FLAGS" ]; then
  if grep -E '^C_INCLUDES' "$FLAGS" | grep -q -- "-I[^ ]*/src\b\|-I[^ ]*/src "; then echo "FAIL the CLI is compiled with -I src: $(grep '^C_INCLUDES' "$FLAGS")"; fail=1
  else echo "ok   the CLI is compiled without -I src ($(grep '^C_INCLUDES' "$FLAGS" | sed 's/C_INCLUDES = //'))"; fi
fi
[ $fail -eq 0 ] && echo "2 passed, 0 failed"
exit $fail
