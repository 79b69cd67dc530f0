#!/usr/bin/env bash
# Configures a build tree for one pinned toolchain, after scripts/install-deps.sh has run.
#
#   scripts/configure.sh BUILD_DIR BUILD_TYPE TOOLCHAIN LLVM_PREFIX [CMAKE_FLAGS...]
#
# TOOLCHAIN is chosen by the caller, never guessed from what happens to be installed:
#   clang  clang-22 + lld-22 (Debian packages installed by install-deps.sh; the default)
#   gcc    the system gcc/g++ with GNU ld, with --as-needed forced so that a library the
#          code does not reference statically is dropped exactly as on distributions whose
#          linker defaults to it (CI builds this tree too: docs/architecture.md, "Builds").
# A missing compiler is an error naming the package. An existing tree configured with other
# settings (another toolchain, build type or flags) is reconfigured; with another compiler
# its CMake cache is removed first, since CMake cannot switch compilers in place.
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 BUILD_DIR BUILD_TYPE TOOLCHAIN LLVM_PREFIX [CMAKE_FLAGS...]" >&2
  exit 2
fi
BUILD_DIR=$1
BUILD_TYPE=$2
TOOLCHAIN=$3
LLVM_PREFIX=$4
shift 4
EXTRA=("$@")

need() { # need TOOL PACKAGE
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "configure: TOOLCHAIN=$TOOLCHAIN needs '$1' (Debian package $2), which is not" \
         "installed; run scripts/install-deps.sh or pick another TOOLCHAIN" >&2
    exit 1
  fi
}

TOOLCHAIN_FLAGS=()
case "$TOOLCHAIN" in
clang)
  need clang-22 clang-22
  need clang++-22 clang-22
  need ld.lld-22 lld-22
  CC=$(command -v clang-22)
  CXX=$(command -v clang++-22)
  TOOLCHAIN_FLAGS+=(-DLLVM_USE_LINKER=lld-22)
  ;;
gcc)
  need gcc gcc
  need g++ g++
  CC=$(command -v gcc)
  CXX=$(command -v g++)
  TOOLCHAIN_FLAGS+=("-DCMAKE_EXE_LINKER_FLAGS=-Wl,--as-needed"
                    "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,--as-needed")
  ;;
*)
  echo "configure: unknown TOOLCHAIN '$TOOLCHAIN' (expected clang or gcc)" >&2
  exit 2
  ;;
esac

LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

ARGS=(-G Ninja -S . -B "$BUILD_DIR"
      -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
      -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX"
      "${TOOLCHAIN_FLAGS[@]}" "${LAUNCHER[@]}"
      -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir"
      -DLLVM_EXTERNAL_LIT="$LLVM_PREFIX/bin/lit"
      "${EXTRA[@]}")

# The settings this tree was last configured with; identical settings need no cmake run
# (ninja re-runs cmake by itself when a CMakeLists.txt changes).
STAMP="$BUILD_DIR/.tessera-configure"
WANT=$(printf '%s\n' "${ARGS[@]}")
if [ -f "$BUILD_DIR/build.ninja" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  exit 0
fi

if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
  old=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
  if [ "$old" != "$CXX" ]; then
    echo "configure: $BUILD_DIR was configured with '$old'; reconfiguring it for $CXX"
    rm -rf "$BUILD_DIR/CMakeCache.txt" "$BUILD_DIR/CMakeFiles"
  fi
fi

echo "configure: $BUILD_DIR with TOOLCHAIN=$TOOLCHAIN ($CXX), $BUILD_TYPE"
cmake "${ARGS[@]}"
printf '%s\n' "$WANT" > "$STAMP"
