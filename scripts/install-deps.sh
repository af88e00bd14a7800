#!/usr/bin/env bash
# Installs the Debian packages SpikeFormer needs to build, test and run its demo.
# Idempotent: packages already present are skipped; apt-get runs only if something is missing.
set -euo pipefail

BUILD_PKGS="build-essential cmake pkg-config clang llvm libclang-rt-14-dev valgrind \
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev libcjson-dev zlib1g-dev \
  libopenblas-dev libopenblas0-openmp libsodium-dev libhdf5-dev libmicrohttpd-dev libcmocka-dev \
  libopenmpi-dev openmpi-bin"  # Open MPI: data-parallel training (mpirun -np N spikeformer train)
DATA_PKGS="dataset-fashion-mnist libonnx-testdata chromium"  # chromium: headless rendering test of the HTML report
# The Python package (python/) and its tests (tests/python: pytest, from_torch against PyTorch, the
# matplotlib example, pip install of the package), with Debian's /usr/bin/python3; h5py: the netx
# reference reader (tests/netx_reference.py) and the NIR reference readers (../shared/vendor: nir, snnTorch).
PY_PKGS="python3-numpy python3-h5py python3-pytest python3-torch python3-matplotlib python3-setuptools python3-pip"
# Only to regenerate the committed reference fixtures (models/*.py).
FIXTURE_PKGS="python3-onnx"

want="$BUILD_PKGS $DATA_PKGS $PY_PKGS"
[ "${SF_WITH_PYTHON:-0}" = 1 ] && want="$want $FIXTURE_PKGS"

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  exit 0
fi
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
