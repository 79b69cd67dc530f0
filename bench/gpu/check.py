#!/usr/bin/env python3
"""GPU correctness checks against the CPU path (run on a GPU machine, from bench/gpu/kit/).

For each checks/<name>/ made by prepare.sh: run model.tsr with tessera-run-gpu on the saved
inputs (in/*.npy, in the entry order inputs.txt gives) and compare every output with the CPU path's (cpu<i>.npy):
  O (bf16/f16): max |gpu - cpu| <= 2e-2 * max(1, max |cpu|)   (P is rounded to 16 bits on
                the GPU before P.V and exp/log use the approximate hardware units)
  LSE (f32):    max |gpu - cpu| <= 1e-2 * max(1, max |cpu|), and -inf exactly where the
                CPU has -inf (rows that see no key), where O must be 0. Relative, because
                the GPU rounds K (and dequantized K) to bf16/f16 before Q.K: the score error
                grows with |score| (packed caches with random scales have |LSE| ~ 30,
                where 2^-9 relative rounding alone gives ~0.06; found by tessera-sim).
Prints one line per check and exits non-zero if any fails. A check with a `requires` file
(sm_90a: wgmma kernels) that the runner cannot load on this GPU is reported as skipped.
Needs only numpy.
`check.py --compare A.npy B.npy` applies the same test to two files (used by the tests).
"""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "tessera-run-gpu")
O_TOL, LSE_TOL = 2e-2, 1e-2


def as_float(a, like):
    """Outputs are bf16 (uint16 bit patterns), f16 or f32; returns float64."""
    if a.dtype == np.uint16:  # bf16 bit patterns (docs/tessera-run.md)
        return (a.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
    return a.astype(np.float64)


def compare(gpu, cpu):
    """Returns (ok, message) for one output pair."""
    if gpu.shape != cpu.shape or gpu.dtype != cpu.dtype:
        return False, f"shape/dtype {gpu.shape} {gpu.dtype} vs {cpu.shape} {cpu.dtype}"
    g, c = as_float(gpu, cpu), as_float(cpu, cpu)
    if np.isnan(g).any():
        return False, f"{int(np.isnan(g).sum())} NaN"
    if cpu.dtype == np.float32:  # LSE
        inf_c, inf_g = np.isneginf(c), np.isneginf(g)
        if (inf_c != inf_g).any():
            return False, f"-inf rows differ at {int((inf_c != inf_g).sum())} places"
        fin = ~inf_c
        err = float(np.abs(g[fin] - c[fin]).max()) if fin.any() else 0.0
        tol = LSE_TOL * max(1.0, float(np.abs(c[fin]).max()) if fin.any() else 1.0)
        return err <= tol, f"lse max err {err:.3g} (tol {tol:.3g})"
    scale = max(1.0, float(np.abs(c).max()))
    err = float(np.abs(g - c).max())
    return err <= O_TOL * scale, f"o max err {err:.3g} (tol {O_TOL * scale:.3g})"


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        ok, msg = compare(np.load(sys.argv[2]), np.load(sys.argv[3]))
        print(("ok: " if ok else "FAIL: ") + msg)
        return 0 if ok else 1
    env = dict(os.environ, LD_LIBRARY_PATH=HERE + ":" + os.environ.get("LD_LIBRARY_PATH", ""))
    failed = skipped = 0
    checks = sorted(glob.glob(os.path.join(HERE, "checks", "*")))
    for d in checks:
        name = os.path.basename(d)
        with open(os.path.join(d, "inputs.txt")) as f:  # entry order, from prepare.sh
            inputs = [os.path.join(d, "in", line.strip()) for line in f if line.strip()]
        refs = sorted(glob.glob(os.path.join(d, "cpu*.npy")))
        with tempfile.TemporaryDirectory() as tmp:
            outs = [os.path.join(tmp, f"gpu{i}.npy") for i in range(len(refs))]
            args = [RUNNER, os.path.join(d, "model.tsr")]
            args += [f"--input={p}" for p in inputs] + [f"--output={p}" for p in outs]
            p = subprocess.run(args, capture_output=True, text=True, env=env)
            if p.returncode:
                if os.path.exists(os.path.join(d, "requires")):
                    need = open(os.path.join(d, "requires")).read().strip()
                    print(f"SKIP {name}: needs {need}; runner: {p.stderr.strip()}")
                    skipped += 1
                    continue
                print(f"FAIL {name}: runner: {p.stderr.strip()}")
                failed += 1
                continue
            results = [compare(np.load(o), np.load(r)) for o, r in zip(outs, refs)]
        ok = all(r[0] for r in results)
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: " + "; ".join(r[1] for r in results))
    print(f"{len(checks) - failed - skipped} of {len(checks)} checks passed"
          + (f", {skipped} skipped (a check for another GPU generation)" if skipped else ""))
    return 1 if failed or len(checks) == skipped else 0


if __name__ == "__main__":
    sys.exit(main())
