#!/usr/bin/env python3
"""GPU verification and benchmark of Tessera's attention kernels (run on a GPU machine).

From bench/gpu/kit/ (made by prepare.sh on any machine with Tessera built): for each .tsr
artifact, draw bf16 inputs with torch, run the kernel with tessera-run-gpu (device time from
CUDA events), check its output against torch.nn.functional.scaled_dot_product_attention
(the reference, computed in fp32 from the same bf16 inputs), and time SDPA's flash backend on
the same inputs. Prints one markdown table: time, TFLOP/s, ratio to SDPA, max error; for the
block-sparse artifacts, the time against (density + 0.05) x the dense time.
Needs: torch with CUDA, numpy.
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "tessera-run-gpu")
DENSITIES = [0.10, 0.25, 0.50]
REPS = int(os.environ.get("REPS", "20"))


def bf16_bits(t):
    """A torch bf16 tensor as the uint16 .npy convention (docs/tessera-run.md)."""
    return t.contiguous().view(__import__("torch").int16).cpu().numpy().view(np.uint16)


def from_bf16_bits(a):
    import torch
    return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)


def main():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        sys.exit("run.py: torch is not installed")
    if not torch.cuda.is_available():
        sys.exit("run.py: no CUDA device here; run this on a GPU machine")
    env = dict(os.environ, LD_LIBRARY_PATH=HERE + ":" + os.environ.get("LD_LIBRARY_PATH", ""))
    dev = torch.cuda.get_device_name()
    print(f"device: {dev}; torch {torch.__version__}; {REPS} timed runs each\n")
    print("| config | B | S | causal | density | Tessera ms | TFLOP/s | SDPA ms | x vs SDPA "
          "| max abs err | note |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    dense_ms = {}
    arts = sorted(os.listdir(os.path.join(HERE, "artifacts")),
                  key=lambda n: (n.startswith("sparse"), n))
    for art in arts:
        m = re.match(r"(dense|sparse)_b(\d+)_s(\d+)(?:_c(\d))?\.tsr", art)
        kind, b, s = m.group(1), int(m.group(2)), int(m.group(3))
        causal = m.group(4) == "1"
        h, d = 16, 128
        for density in (DENSITIES if kind == "sparse" else [1.0]):
            g = torch.Generator(device="cuda").manual_seed(0)
            q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.bfloat16, generator=g)
                       for _ in range(3))
            inputs = [bf16_bits(q), bf16_bits(k), bf16_bits(v)]
            block_mask = None
            if kind == "sparse":
                qb = kb = (s + 63) // 64
                bits = torch.rand(b, h, qb, kb, generator=g, device="cuda") < density
                bits |= torch.eye(qb, kb, dtype=torch.bool, device="cuda")  # keep the diagonal
                block_mask = bits
                words = np.zeros((b, h, qb, (kb + 31) // 32), np.uint32)
                bm = bits.cpu().numpy()
                for j in range(kb):
                    words[..., j // 32] |= (bm[..., j].astype(np.uint32) << np.uint32(j % 32))
                inputs.append(words.view(np.int32))
            with tempfile.TemporaryDirectory() as tmp:
                args = [RUNNER, os.path.join(HERE, "artifacts", art), f"--bench={REPS}",
                        f"--output={tmp}/o.npy"]
                for i, a in enumerate(inputs):
                    np.save(f"{tmp}/in{i}.npy", a)
                    args.append(f"--input={tmp}/in{i}.npy")
                p = subprocess.run(args, capture_output=True, text=True, env=env)
                if p.returncode:
                    print(f"| {art} | {b} | {s} | {causal} | - | failed: {p.stderr.strip()} |")
                    continue
                ms = float(re.search(r"median ([0-9.]+) ms", p.stdout).group(1))
                out = from_bf16_bits(np.load(f"{tmp}/o.npy")).cuda().float()
            # Reference: fp32 math on the same bf16 inputs; masks expanded to elements.
            attn_mask = None
            if block_mask is not None:
                attn_mask = block_mask.repeat_interleave(64, 2).repeat_interleave(64, 3)
                attn_mask = attn_mask[..., :s, :s]
            ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                                 attn_mask=attn_mask, is_causal=causal)
            err = (out - ref).abs().max().item()
            # Peer: SDPA's flash backend in bf16 (dense; for block-sparse, the dense time).
            from torch.nn.attention import SDPBackend, sdpa_kernel
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                run = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                for _ in range(3):
                    run()
                start, stop = torch.cuda.Event(True), torch.cuda.Event(True)
                times = []
                for _ in range(REPS):
                    start.record()
                    run()
                    stop.record()
                    stop.synchronize()
                    times.append(start.elapsed_time(stop))
            sdpa = sorted(times)[len(times) // 2]
            pairs = s * (s + 1) / 2 if causal else s * s
            if kind == "sparse":
                pairs *= block_mask.float().mean().item()
            tflops = 4 * b * h * pairs * d / (ms * 1e9)
            note = ""
            if kind == "dense":
                dense_ms[(b, s)] = ms if not causal else dense_ms.get((b, s), ms)
            else:
                dense = dense_ms.get((b, s))
                if dense:
                    target = (density + 0.05) * dense
                    note = f"{'meets' if ms <= target else 'misses'} (density+0.05) x dense = {target:.2f} ms"
            print(f"| {art} | {b} | {s} | {causal} | {density:.2f} | {ms:.2f} | {tflops:.1f} "
                  f"| {sdpa:.2f} | {sdpa / ms:.2f} | {err:.3g} | {note} |", flush=True)


if __name__ == "__main__":
    main()
