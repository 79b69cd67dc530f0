#!/usr/bin/env python3
"""Simulator speed (a benchmark, not a test): runs every check of the GPU kit on tessera-sim
with its checkers on and prints, per kernel launch, the warp instructions it executed, the
host seconds and the simulated warp instructions per second, then the kit's wall time (what
`make test` pays for test/bench/gpu-checks.test's simulator part) and that of the
ground-truth suite (TesseraSimValidationTests: nvcc's and CUTLASS's kernels).

  BUILD_DIR=build python3 bench/sim/speed.py        (make bench-sim)
"""
import os
import re
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(os.environ.get("BUILD_DIR", "build"))
here = os.path.dirname(os.path.abspath(__file__))
kit = tempfile.mkdtemp(prefix="tessera-sim-bench-")
subprocess.run([os.path.join(here, "..", "gpu", "prepare.sh")], check=True,
               stdout=subprocess.DEVNULL,
               env=dict(os.environ, CHECKS_ONLY="1", KIT=kit, BUILD_DIR=build))
runner = os.path.join(build, "bin", "tessera-run-gpu")
line = re.compile(r"tessera-sim: (\S+) grid \(([^)]*)\) block \(([^)]*)\): (\d+) warp "
                  r"instructions in ([0-9.]+) s")
print(f"{'check':28} {'kernel':24} {'grid':>10} {'block':>8} {'warp instr':>12} "
      f"{'seconds':>8} {'M/s':>6}")
total_instr = total_sec = 0.0
start = time.time()
for name in sorted(os.listdir(os.path.join(kit, "checks"))):
    d = os.path.join(kit, "checks", name)
    with open(os.path.join(d, "inputs.txt")) as f:
        inputs = [f"--input={os.path.join(d, 'in', l.strip())}" for l in f if l.strip()]
    p = subprocess.run([runner, os.path.join(d, "model.tsr"), "--device=sim"] + inputs,
                       capture_output=True, text=True,
                       env=dict(os.environ, TESSERA_SIM_STATS="1"))
    if p.returncode:
        print(f"{name:28} FAILED: {p.stderr.strip()}")
        continue
    for m in line.finditer(p.stderr):
        kernel, grid, block, instr, sec = m.groups()
        instr, sec = int(instr), float(sec)
        total_instr += instr
        total_sec += sec
        print(f"{name:28} {kernel:24} {grid:>10} {block:>8} {instr:12d} {sec:8.3f} "
              f"{instr / sec / 1e6 if sec else 0:6.2f}")
wall = time.time() - start
print(f"{'total':28} {'':24} {'':>10} {'':>8} {int(total_instr):12d} {total_sec:8.3f} "
      f"{total_instr / total_sec / 1e6 if total_sec else 0:6.2f}")
print(f"kit wall time on the simulator: {wall:.1f} s ({os.cpu_count()} host cores; "
      "one simulation thread)")
validation = os.path.join(build, "test", "unit", "TesseraSimValidationTests")
if os.path.exists(validation):
    start = time.time()
    p = subprocess.run([validation], capture_output=True, text=True)
    passed = re.search(r"\[  PASSED  \] (\d+) test", p.stdout)
    print(f"ground-truth suite on the simulator: {time.time() - start:.2f} s, "
          f"{passed.group(1) + ' passed' if passed else 'FAILED'}")
