"""Runs small Tessera modules (tessera.evict, tessera.block_select, tessera.attention) through
the compiled tessera-run on NumPy inputs, for the eviction and routing sections of the fidelity
report (sections 6 and 7 of docs/fidelity.md).

`OpRunner.run(text, inputs, n_out)` writes the module and the inputs as .npy files, runs
`tessera-run FILE --input=... --output=...` and returns the outputs as arrays. Compiled objects
are cached by tessera-run's own JIT cache (the module text is part of the key), so the same
module run on many inputs compiles once.
"""
import os
import shutil
import subprocess
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool_path(build=None):
    build = build or os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
    tool = os.path.join(build, "bin", "tessera-run")
    return tool if os.path.isabs(tool) else os.path.join(ROOT, tool)


class OpError(RuntimeError):
    pass


class OpRunner:
    def __init__(self, tool=None):
        self.tool = tool or tool_path()
        self.available = os.access(self.tool, os.X_OK)
        self.tmp = tempfile.mkdtemp(prefix="tessera-ops-")
        self.calls = 0

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, text, inputs, n_out, extra=()):
        """Outputs of the module's only entry on `inputs` (arrays, in argument order)."""
        if not self.available:
            raise OpError(f"{self.tool} not found")
        self.calls += 1
        src = os.path.join(self.tmp, f"m{self.calls}.mlir")
        with open(src, "w") as f:
            f.write(text)
        ins = []
        for i, a in enumerate(inputs):
            p = os.path.join(self.tmp, f"in{self.calls}_{i}.npy")
            np.save(p, np.ascontiguousarray(a))
            ins.append(p)
        outs = [os.path.join(self.tmp, f"out{self.calls}_{i}.npy") for i in range(n_out)]
        p = subprocess.run([self.tool, src] + [f"--input={x}" for x in ins] +
                           [f"--output={x}" for x in outs] + list(extra),
                           capture_output=True, text=True, timeout=1200)
        try:
            if p.returncode != 0:
                raise OpError(f"tessera-run failed on {src}:\n{p.stdout[-2000:]}"
                              f"{p.stderr[-2000:]}")
            return [np.load(o) for o in outs]
        finally:
            for path in ins + outs + [src]:
                if os.path.exists(path) and p.returncode == 0:
                    os.unlink(path)

    def run_tool(self, args):
        """tessera-run with arbitrary arguments (host modes); returns stdout."""
        p = subprocess.run([self.tool] + list(args), capture_output=True, text=True,
                           timeout=1200)
        if p.returncode != 0:
            raise OpError(f"tessera-run {' '.join(args)} failed:\n{p.stdout}{p.stderr}")
        return p.stdout

    def save(self, name, a):
        p = os.path.join(self.tmp, name)
        np.save(p, np.ascontiguousarray(a))
        return p


def tt(shape, dtype="f32"):
    return "tensor<" + "x".join(str(s) for s in shape) + f"x{dtype}>"
