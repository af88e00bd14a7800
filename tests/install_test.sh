#!/usr/bin/env bash
# `make install PREFIX=DIR` layout, programs built against it via pkg-config and via CMake, and the
# Python package it installs (imported from the site-packages folder the install prints).
#   usage: tests/install_test.sh BUILD_DIR
set -euo pipefail
BUILD=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cmake --install "$BUILD" --prefix "$T/prefix" > "$T/install.log"
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
# the Python package: the install's last line names its site-packages folder
SITE=$(sed -n 's/^-- spikeformer Python package: \([^ ]*\) .*/\1/p' "$T/install.log")
[ -n "$SITE" ] && [ -f "$SITE/spikeformer/__init__.py" ] || { echo "FAIL: the install printed no Python package folder"; tail -3 "$T/install.log"; exit 1; }
# from an unrelated folder, with nothing pointing at the build: it must find PREFIX/lib and PREFIX/share by itself
(cd "$T" && env -u SPIKEFORMER_LIB -u SPIKEFORMER_ENERGY_DIR PYTHONPATH="$SITE" /usr/bin/python3 - "$ROOT" "$T/prefix" <<'PY'
import os, sys
import numpy as np
import spikeformer as sf
root, prefix = sys.argv[1], sys.argv[2]
assert os.path.samefile(sf.library_path(), os.path.join(prefix, "lib", "libspikeformer.so.0")), sf.library_path()
assert os.path.samefile(sf.energy_dir(), os.path.join(prefix, "share", "spikeformer", "energy")), sf.energy_dir()
m = sf.load(os.path.join(root, "models/mlp/model.onnx"))
y = m.run(np.load(os.path.join(root, "models/mlp/sample_input.npy")))
want = np.load(os.path.join(root, "models/mlp/sample_logits.npy"))
assert y.shape == want.shape and np.abs(y - want).max() < 1e-4, np.abs(y - want).max()
snn = sf.convert(m, timesteps=4, calib_samples=64)
r = snn.profile(limit=64)
assert r["energy"] and 0 < r["energy_ratio_45nm"], r.get("energy_ratio_45nm")
print(f"python: spikeformer {sf.version()} from {sf.library_path()}: MLP logits within {np.abs(y - want).max():.1e} of PyTorch, "
      f"SNN at T=4 {r['snn_accuracy_by_t'][-1]:.3f}, energy ratio {r['energy_ratio_45nm']:.3f}")
PY
) || { echo "FAIL: the installed Python package"; exit 1; }
echo "1 passed, 0 failed"
