#!/usr/bin/env bash
# Installs the Debian packages Tessera builds against, and the CUTLASS/CuTe headers (PyPI's
# nvidia-cutlass, pinned) that the simulator's sm_90a validation kernels compile against,
# into .cache/ of this checkout; idempotent (does nothing when all are present).
set -euo pipefail
cd "$(dirname "$0")/.."

# CUTLASS headers: header-only, used by test/sim/cuda/gmma.cu (nvcc, sm_90a). Without them
# (no network to PyPI) those validation tests skip and say why; nothing else needs them.
CUTLASS_VERSION=4.2.0.0
CUTLASS_DIR=.cache/cutlass-$CUTLASS_VERSION
fetch_cutlass() {
  [ -f "$CUTLASS_DIR/include/cute/tensor.hpp" ] && return 0
  echo "install-deps: fetching the CUTLASS $CUTLASS_VERSION headers (PyPI nvidia-cutlass)"
  local tmp
  tmp=$(mktemp -d)
  rm -rf "$CUTLASS_DIR.partial" "$CUTLASS_DIR.inc"
  if /usr/bin/python3 -m pip download --quiet --no-deps --no-cache-dir -d "$tmp" \
      "nvidia-cutlass==$CUTLASS_VERSION"; then
    /usr/bin/python3 - "$tmp" "$CUTLASS_DIR" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
prefix, out = "cutlass_library/source/include/", sys.argv[2] + ".partial"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            z.extract(name, out)
os.rename(os.path.join(out, prefix), os.path.join(sys.argv[2] + ".inc"))
PY
    mkdir -p "$CUTLASS_DIR" && mv "$CUTLASS_DIR.inc" "$CUTLASS_DIR/include"
    rm -rf "$CUTLASS_DIR.partial"
  else
    echo "install-deps: warning: nvidia-cutlass could not be downloaded; the sm_90a" \
      "validation kernels will be skipped"
  fi
  rm -rf "$tmp"
}

PKGS=(llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22 libomp-22-dev
      clang-format-22 libclang-rt-22-dev
      ninja-build cmake ccache libgtest-dev python3-numpy python3-pip)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  fetch_cutlass
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fetch_cutlass
