#!/usr/bin/env python3
"""Attention forward on the CPU: Tessera (tessera-run) against PyTorch's
scaled_dot_product_attention and a NumPy implementation, measured in the same run.

Prints one table (markdown) with time, GFLOP/s, peak resident memory, the ratios against the
peers, and the fraction of this CPU's measured FMA peak (single-core peak x cores). Tessera's
kernels use every core (OpenMP); PyTorch is shown with one thread and with all cores.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
RUN = os.path.join(BUILD, "bin", "tessera-run")
B, H, D = 1, 8, 128
SEQS = [int(s) for s in os.environ.get("BENCH_SEQS", "512,2048,4096").split(",")]
REPS = int(os.environ.get("BENCH_REPS", "10"))


def flops(s, causal):
    pairs = s * (s + 1) / 2 if causal else s * s
    return 2.0 * B * H * pairs * (D + D)


def tessera(s, causal, tmp):
    t = f"tensor<{B}x{H}x{s}x{D}xf32>"
    attrs = " {causal}" if causal else ""
    path = os.path.join(tmp, f"attn_{s}_{int(causal)}.mlir")
    with open(path, "w") as f:
        f.write(f"func.func @attn(%q: {t}, %k: {t}, %v: {t}) -> {t} {{\n"
                f"  %o, %l = tessera.attention %q, %k, %v{attrs} : {t}, {t}, {t} -> {t}, "
                f"tensor<{B}x{H}x{s}xf32>\n  return %o : {t}\n}}\n")
    cmd = ["/usr/bin/time", "-f", "maxrss_kb=%M", RUN, path, "--random-inputs=1",
           f"--bench={REPS}", f"--cache-dir={os.path.join(tmp, 'cache')}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"tessera-run failed:\n{p.stdout}\n{p.stderr}")
    ms = float(re.search(r"median ([0-9.]+) ms", p.stdout).group(1))
    rss = int(re.search(r"maxrss_kb=(\d+)", p.stderr).group(1)) / 1024
    return ms, rss


def best_ms(fn, reps=REPS):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    configs = [(s, causal) for s in SEQS for causal in (False, True)]
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "fma_peak")
        subprocess.run(["cc", "-O3", "-march=native", os.path.join(ROOT, "bench", "fma_peak.c"),
                        "-o", exe], check=True)
        peak = float(subprocess.run([exe], capture_output=True, text=True).stdout)
        # Tessera first, before PyTorch's thread pool exists: on a small machine its spinning
        # workers would otherwise steal cores from the next measurement.
        ours = {c: tessera(c[0], c[1], tmp) for c in configs}

    try:
        import torch
        import torch.nn.functional as F
        torch_version = torch.__version__
    except ImportError:
        torch = None
        torch_version = "not installed"
    try:
        import numpy as np
    except ImportError:
        np = None
    peers = {}
    for s, causal in configs:
        t1 = tall = tnp = float("nan")
        if torch is not None:
            g = torch.Generator().manual_seed(0)
            q, k, v = (torch.randn(B, H, s, D, generator=g) for _ in range(3))
            run = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            torch.set_num_threads(1)
            t1 = best_ms(run)
            torch.set_num_threads(os.cpu_count())
            tall = best_ms(run)
        if np is not None:
            rng = np.random.default_rng(0)
            q, k, v = (rng.standard_normal((B, H, s, D), dtype=np.float32) for _ in range(3))
            mask = np.triu(np.full((s, s), -np.inf, np.float32), 1) if causal else 0

            def numpy_attn():
                sc = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(D)) + mask
                sc = np.exp(sc - sc.max(-1, keepdims=True))
                return (sc / sc.sum(-1, keepdims=True)) @ v
            tnp = best_ms(numpy_attn, max(1, REPS // 2))
        peers[(s, causal)] = (t1, tall, tnp)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "unknown CPU")
    cores = os.cpu_count()
    print(f"CPU: {cpu}, {cores} cores; measured single-core FMA peak {peak:.1f} GFLOP/s "
          f"({peak * cores:.1f} on all cores); torch {torch_version}; "
          f"numpy {np.__version__ if np else 'not installed'}")
    print(f"attention fwd f32, B={B}, H={H}, D={D}, median of {REPS}\n")
    print("| S | causal | Tessera ms | GFLOP/s | % FMA peak (all cores) | peak RSS MB "
          "| torch 1 thr ms | torch all ms | x vs torch 1 thr | x vs torch all "
          "| NumPy ms | x vs NumPy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s, causal in configs:
        ms, rss = ours[(s, causal)]
        t1, tall, tnp = peers[(s, causal)]
        gf = flops(s, causal) / (ms * 1e6)
        print(f"| {s} | {'yes' if causal else 'no'} | {ms:.1f} | {gf:.1f} | "
              f"{100 * gf / (peak * cores):.0f}% | {rss:.0f} | {t1:.1f} | {tall:.1f} | "
              f"{t1 / ms:.2f} | {tall / ms:.2f} | {tnp:.1f} | {tnp / ms:.2f} |")
    print("\nx > 1: Tessera is faster. Peak RSS is the whole tessera-run process (inputs, "
          "outputs, JIT); the S x S score matrix would be "
          f"{B * H * SEQS[-1] ** 2 * 4 / 2**20:.0f} MB at S={SEQS[-1]}.")


if __name__ == "__main__":
    main()
