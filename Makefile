# SpikeFormer: the two commands are `make demo` and `make test`. Both install missing Debian
# packages first (scripts/install-deps.sh, idempotent).
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE ?= cmake
DATA ?= /usr/share/datasets/fashion-mnist
OUT ?= out

.PHONY: all deps build test test-fast asan demo install bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@$(CMAKE) --build $(BUILD) -j $(JOBS)

# Every test in the release build, then the same suite built with ASan + UBSan.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2
	@$(MAKE) --no-print-directory asan

asan: deps
	@$(CMAKE) -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSF_SANITIZE=ON -DCMAKE_C_COMPILER=clang >/dev/null
	@$(CMAKE) --build $(ASAN_BUILD) -j $(JOBS)
	@# OpenBLAS's own worker threads crash LeakSanitizer's stop-the-world at exit, so BLAS runs
	@# single-threaded here; SpikeFormer's OpenMP kernels still run on 2 threads. The Python tests
	@# are left out: an ASan-built library cannot be loaded into an unsanitised Python.
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=2 ctest --output-on-failure -j 2 -LE "slow|install|python"

# The main job: analyse and evaluate the shipped ViT on real Fashion-MNIST, write the report.
demo: build
	@bash scripts/demo.sh $(BUILD)/spikeformer $(DATA) $(OUT)

install: build
	@$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

bench: build
	@bash bench/run.sh $(BUILD)

fuzz: deps
	@$(CMAKE) -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSF_FUZZ=ON -DSF_BUILD_TESTS=OFF -DCMAKE_C_COMPILER=clang >/dev/null
	@$(CMAKE) --build build-fuzz -j $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
