"""Round trips of a packed format through the compiled compiler (tessera-run) or the NumPy
reference, and the bookkeeping of which engine produced each number.

A `Format` knows its reference round trip and, where the dialect can say it, the
`#tessera.quant` attribute of the same scheme. `Engine.roundtrip` compiles

    func.func @main(%x: tensor<?xDxf32>) -> tensor<?xDxf32> {
      %p = tessera.quantize %x : tensor<?xDxf32> -> !tessera.qtensor<?xDxf32, ATTR>
      %y = tessera.dequantize %p : !tessera.qtensor<?xDxf32, ATTR> -> tensor<?xDxf32>
      return %y : tensor<?xDxf32>
    }

runs it on the rows with tessera-run, and falls back to the reference when the scheme does not
compile yet (the first failure of an attribute is remembered with its diagnostic). Where the
compiled engine ran, the reference runs too on the same rows, and `Agreement` records the MSE
of each and their largest elementwise difference: bit-level agreement is expected only where
both sides draw the same rotation (int has none); otherwise the seeded rotations differ and the
MSE ratio is the check.
"""
import os
import subprocess
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Format:
    def __init__(self, label, d, ref, attr=None, bits_per_scalar=None):
        self.label, self.d, self.ref, self.attr = label, d, ref, attr
        self.bits_per_scalar = bits_per_scalar

    def __repr__(self):
        return self.label


class Agreement:
    """Compiled vs reference on the same rows, accumulated over calls."""

    def __init__(self):
        self.se_c = self.se_r = 0.0
        self.count = 0
        self.maxdiff = 0.0
        self.sumsq = 0.0

    def add(self, x, yc, yr):
        self.se_c += float(np.sum((x - yc) ** 2))
        self.se_r += float(np.sum((x - yr) ** 2))
        self.sumsq += float(np.sum(x ** 2))
        self.count += x.size
        self.maxdiff = max(self.maxdiff, float(np.max(np.abs(yc - yr))))

    def summary(self):
        if not self.count:
            return "—"
        ratio = self.se_c / self.se_r if self.se_r > 0 else float("nan")
        rms = (self.sumsq / self.count) ** 0.5
        rel = self.maxdiff / rms if rms > 0 else 0.0
        if self.maxdiff == 0.0:
            return f"bit-exact (MSE ratio {ratio:.4f})"
        return f"MSE c/r {ratio:.3f}, max\\|Δ\\|/rms {rel:.2g}"


class Engine:
    """mode: 'auto' (compiled where it compiles, else reference), 'ref', or 'compiled'
    (compiled where it compiles; the same fallback, but reported)."""

    def __init__(self, mode="auto", build=None, workdir=None):
        self.mode = mode
        build = build or os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
        self.tool = os.path.join(build, "bin", "tessera-run")
        if not os.path.isabs(self.tool):
            self.tool = os.path.join(ROOT, self.tool)
        self.available = os.access(self.tool, os.X_OK)
        self.failed = {}          # attr -> first diagnostic
        self.used = {}            # format label -> set of engines used
        self.agree = {}           # format label -> Agreement
        self.tmp = tempfile.mkdtemp(prefix="tessera-fidelity-", dir=workdir)
        self.calls = 0

    def _module(self, d, attr):
        t = f"tensor<?x{d}xf32>"
        q = f"!tessera.qtensor<?x{d}xf32, {attr}>"
        return (f"func.func @main(%x: {t}) -> {t} {{\n"
                f"  %p = tessera.quantize %x : {t} -> {q}\n"
                f"  %y = tessera.dequantize %p : {q} -> {t}\n"
                f"  return %y : {t}\n}}\n")

    def compiled_roundtrip(self, x, d, attr):
        """The compiled round trip of rows x [N, d], or None (with the diagnostic remembered)."""
        if not self.available or attr is None or attr in self.failed:
            return None
        self.calls += 1
        src = os.path.join(self.tmp, f"m{self.calls}.mlir")
        xin = os.path.join(self.tmp, f"x{self.calls}.npy")
        yout = os.path.join(self.tmp, f"y{self.calls}.npy")
        with open(src, "w") as f:
            f.write(self._module(d, attr))
        np.save(xin, np.ascontiguousarray(x, np.float32))
        p = subprocess.run([self.tool, src, f"--input={xin}", f"--output={yout}"],
                           capture_output=True, text=True, timeout=600)
        for path in (src, xin):
            os.unlink(path)
        if p.returncode != 0 or not os.path.exists(yout):
            msg = (p.stderr or p.stdout).strip().splitlines()
            self.failed[attr] = msg[0] if msg else f"exit {p.returncode}"
            return None
        y = np.load(yout).astype(np.float64)
        os.unlink(yout)
        if y.shape != x.shape or not np.all(np.isfinite(y)):
            self.failed[attr] = f"bad output (shape {y.shape}, finite {np.all(np.isfinite(y))})"
            return None
        return y

    def compiled_quantize(self, x, d, attr):
        """The storage components of the compiled tessera.quantize of rows x [N, d] (a list of
        arrays, in QTensorType's component order), or None."""
        if self.mode == "ref" or not self.available or attr is None or attr in self.failed:
            return None
        self.calls += 1
        q = f"!tessera.qtensor<?x{d}xf32, {attr}>"
        src = os.path.join(self.tmp, f"q{self.calls}.mlir")
        with open(src, "w") as f:
            f.write(f"func.func @main(%x: tensor<?x{d}xf32>) -> {q} {{\n"
                    f"  %p = tessera.quantize %x : tensor<?x{d}xf32> -> {q}\n"
                    f"  return %p : {q}\n}}\n")
        xin = os.path.join(self.tmp, f"qx{self.calls}.npy")
        np.save(xin, np.ascontiguousarray(x, np.float32))
        outs = [os.path.join(self.tmp, f"qo{self.calls}_{i}.npy") for i in range(4)]
        abi = subprocess.run([self.tool, src, "--print-abi"], capture_output=True, text=True)
        n_out = sum(1 for l in abi.stdout.splitlines() if l.strip().startswith("out "))
        if abi.returncode != 0 or n_out == 0:
            return None
        p = subprocess.run([self.tool, src, f"--input={xin}"] +
                           [f"--output={o}" for o in outs[:n_out]], capture_output=True, text=True)
        res = [np.load(o) for o in outs[:n_out]] if p.returncode == 0 else None
        for path in [src, xin] + outs:
            if os.path.exists(path):
                os.unlink(path)
        return res

    def roundtrip(self, fmt, x):
        """Round trip of rows x [..., d] under fmt; returns y (float64)."""
        x = np.asarray(x, np.float64)
        shape = x.shape
        x2 = x.reshape(-1, fmt.d)
        y = None
        if self.mode != "ref":
            y = self.compiled_roundtrip(x2, fmt.d, fmt.attr)
        yr = fmt.ref(x2)
        if y is None:
            self.used.setdefault(fmt.label, set()).add("reference")
            return np.asarray(yr, np.float64).reshape(shape)
        self.used.setdefault(fmt.label, set()).add("compiled")
        self.agree.setdefault(fmt.label, Agreement()).add(x2, y, np.asarray(yr, np.float64))
        return y.reshape(shape)

    def engine_of(self, labels):
        """'compiled', 'reference' or 'mixed' over the formats that produced one number."""
        used = set()
        for l in labels:
            used |= self.used.get(l, set())
        if not used:
            return "—"
        return used.pop() if len(used) == 1 else "mixed"

    def agreement_of(self, labels):
        parts = [f"{l}: {self.agree[l].summary()}" for l in labels if l in self.agree]
        return "; ".join(parts) if parts else "—"
