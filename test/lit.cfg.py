# lit configuration for the Tessera test suite.
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "Tessera"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tessera_obj_root, "test")

# FileCheck, not, count from LLVM 22 (never the LLVM 14 ones that may be on PATH).
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.tessera_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["tessera-opt", "tessera-run", "tessera-compile", "tessera-run-gpu", "tessera-sim"], [config.tessera_tools_dir])

config.substitutions.append(("%tessera_lib_dir", config.tessera_lib_dir))
config.substitutions.append(("%tessera_tools_dir", config.tessera_tools_dir))
config.substitutions.append(("%tessera_src_root", config.tessera_src_root))
config.substitutions.append(("%tessera_obj_root", config.tessera_obj_root))
# A stand-in libcuda (test/unit/runtime/FakeDriver.cpp) for running artifacts without a GPU.
config.substitutions.append(("%fake_cuda", config.tessera_fake_cuda))
# The simulator as a CUDA driver (runtime/sim/src/CudaDriver.cpp).
config.substitutions.append(("%sim_cuda", os.path.join(config.tessera_lib_dir, "libtessera_sim_cuda.so")))

# ptxas validates the PTX we emit; without a CUDA toolkit those tests are UNSUPPORTED.
ptxas = shutil.which("ptxas") or next(
    (p for p in [os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "ptxas"),
                 "/usr/local/cuda/bin/ptxas"] if os.path.exists(p)), None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
config.substitutions.append(("%python", "/usr/bin/python3"))

# Tools some tests need; a test that needs one that is missing is UNSUPPORTED, not failed.
for tool, feature in [("ldd", "ldd"), ("nm", "nm")]:
    if shutil.which(tool):
        config.available_features.add(feature)

# The formatting check runs clang-format-22 (never an older clang-format on PATH) over the
# files git tracks; outside a git checkout (a source tarball) there is nothing to list.
clang_format = shutil.which("clang-format-22") or (
    "/usr/lib/llvm-22/bin/clang-format"
    if os.path.exists("/usr/lib/llvm-22/bin/clang-format") else None)
if clang_format:
    config.available_features.add("clang-format")
    config.substitutions.append(("%clang_format", clang_format))
if os.path.isdir(os.path.join(config.tessera_src_root, ".git")) or os.path.isfile(
        os.path.join(config.tessera_src_root, ".git")):
    config.available_features.add("git-checkout")
