# Tessera: the two commands a newcomer needs are `make demo` and `make test`.
BUILD_DIR ?= build
LLVM_PREFIX ?= /usr/lib/llvm-22
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=

# clang-22 + lld when installed (faster, leaner builds); the system compiler otherwise.
CC_PICK := $(shell command -v clang-22 >/dev/null 2>&1 && echo clang-22 || echo cc)
CXX_PICK := $(shell command -v clang++-22 >/dev/null 2>&1 && echo clang++-22 || echo c++)
LINKER_FLAGS := $(shell command -v ld.lld-22 >/dev/null 2>&1 && echo -DLLVM_USE_LINKER=lld-22)
LAUNCHER := $(shell command -v ccache >/dev/null 2>&1 && echo -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

.PHONY: all deps configure build test demo docs bench sanitize clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	@$(MAKE) --no-print-directory deps
	cmake -G Ninja -S . -B $(BUILD_DIR) \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_C_COMPILER=$(CC_PICK) -DCMAKE_CXX_COMPILER=$(CXX_PICK) $(LINKER_FLAGS) $(LAUNCHER) \
	  -DMLIR_DIR=$(LLVM_PREFIX)/lib/cmake/mlir \
	  -DLLVM_EXTERNAL_LIT=$(LLVM_PREFIX)/bin/lit \
	  $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR)

test: build
	@./scripts/run-tests.sh $(BUILD_DIR)

demo: build
	@./scripts/demo.sh $(BUILD_DIR)

# Benchmarks (not tests): prints the attention table of docs/performance-cpu.md.
bench: build
	@python3 -c "import numpy" 2>/dev/null || python3 -m pip install --quiet numpy
	@python3 -c "import torch" 2>/dev/null || python3 -m pip install --quiet torch || \
	  echo "bench: PyTorch could not be installed; its columns will read nan"
	BUILD_DIR=$(BUILD_DIR) python3 bench/attention_cpu.py

# The suites under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/. Debian's
# libMLIR/libLLVM are not instrumented, while LLVM's header-inlined allocators are: their
# manual poisoning would report false use-after-poison, hence allow_user_poisoning=0.
sanitize: deps
	@dpkg-query -W -f='$${Status}' libclang-rt-22-dev 2>/dev/null | grep -q "ok installed" || \
	  $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get install -y -qq libclang-rt-22-dev
	ASAN_OPTIONS=allow_user_poisoning=0 \
	  $(MAKE) --no-print-directory test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo \
	  CMAKE_FLAGS="-DTESSERA_SANITIZE=ON"

docs: configure
	cmake --build $(BUILD_DIR) --target docs

clean:
	rm -rf $(BUILD_DIR)
