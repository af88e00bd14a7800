#!/usr/bin/env bash
# `make install PREFIX=DIR` layout, and programs built against it via pkg-config and via CMake.
#   usage: tests/install_test.sh BUILD_DIR
set -euo pipefail
BUILD=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cmake --install "$BUILD" --prefix "$T/prefix" > /dev/null
for f in bin/spikeformer include/spikeformer/spikeformer.h lib/libspikeformer.a lib/libspikeformer.so \
         lib/pkgconfig/spikeformer.pc lib/cmake/SpikeFormer/SpikeFormerConfig.cmake; do
  [ -e "$T/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
"$T/prefix/bin/spikeformer" --version
PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" cc "$ROOT/tests/install_consumer/main.c" -o "$T/c1" \
  $(PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" pkg-config --cflags --libs spikeformer) -Wl,-rpath,"$T/prefix/lib"
"$T/c1" "$ROOT/models/mlp/model.onnx"
cmake -S "$ROOT/tests/install_consumer" -B "$T/cb" -DCMAKE_PREFIX_PATH="$T/prefix" > /dev/null
cmake --build "$T/cb" > /dev/null
"$T/cb/consumer" "$ROOT/models/vit/hf"
echo "1 passed, 0 failed"
