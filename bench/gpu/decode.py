#!/usr/bin/env python3
"""GPU decode attention table (issue #9), run on a GPU machine from bench/gpu/kit/.

Two artifacts made by prepare.sh serve every row, because their batch and lengths are run-time
sizes: decode.tsr (Q [B, 32, 1, 128], K/V [B, 8, Skv, 128] bf16) and decode_paged.tsr (K/V in
pools of 16-token pages [P, 16, 8, 128] read through a block table and kv_lens). For B in
{1, 8, 32} and Skv in {1k, 4k, 16k} it draws inputs with torch, runs Tessera with
tessera-run-gpu (device time from CUDA events), checks the output against SDPA in fp32 on the
same inputs, times torch SDPA (bf16, enable_gqa; for paged rows on the K/V gathered from the
pool before timing) and reports GB/s of K/V bytes read and the fraction of this device's copy
bandwidth measured in the same run (a 2 GiB device-to-device copy: read + write bytes /
time), the FlashInfer-style yardstick for decode. Needs torch with CUDA and numpy.
Environment: DECODE_B, DECODE_SKV (comma lists), REPS (default 20).
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "tessera-run-gpu")
HQ, HKV, D, PAGE = 32, 8, 128, 16
REPS = int(os.environ.get("REPS", "20"))
BATCHES = [int(x) for x in os.environ.get("DECODE_B", "1,8,32").split(",")]
SKVS = [int(x) for x in os.environ.get("DECODE_SKV", "1024,4096,16384").split(",")]


def bits(t):
    """A torch tensor as .npy data (bf16 as uint16 bit patterns: docs/tessera-run.md)."""
    import torch
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).cpu().numpy().view(np.uint16)
    return t.contiguous().cpu().numpy()


def device_ms(fn):
    import torch
    for _ in range(3):
        fn()
    start, stop = torch.cuda.Event(True), torch.cuda.Event(True)
    times = []
    for _ in range(REPS):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return sorted(times)[len(times) // 2]


def copy_bandwidth():
    """GB/s of a device-to-device copy of 2 GiB (bytes read + written)."""
    import torch
    src = torch.empty(1 << 30, dtype=torch.int16, device="cuda")
    dst = torch.empty_like(src)
    ms = device_ms(lambda: dst.copy_(src))
    return 2 * src.numel() * 2 / (ms * 1e6)


def run_tessera(artifact, inputs, env):
    with tempfile.TemporaryDirectory() as tmp:
        args = [RUNNER, os.path.join(HERE, "artifacts", artifact), f"--bench={REPS}",
                f"--output={tmp}/o.npy"]
        for i, a in enumerate(inputs):
            np.save(f"{tmp}/in{i}.npy", a)
            args.append(f"--input={tmp}/in{i}.npy")
        p = subprocess.run(args, capture_output=True, text=True, env=env)
        if p.returncode:
            return None, p.stderr.strip()
        ms = float(re.search(r"median ([0-9.]+) ms", p.stdout).group(1))
        return (ms, np.load(f"{tmp}/o.npy")), ""


def main():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        sys.exit("decode.py: torch is not installed")
    if not torch.cuda.is_available():
        sys.exit("decode.py: no CUDA device here; run this on a GPU machine")
    env = dict(os.environ, LD_LIBRARY_PATH=HERE + ":" + os.environ.get("LD_LIBRARY_PATH", ""))
    bw = copy_bandwidth()
    print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}; copy bandwidth "
          f"{bw:.0f} GB/s (read + write); {REPS} timed runs each\n")
    print("| B | Skv | layout | K/V MB | Tessera ms | GB/s | % copy BW | SDPA ms | x vs SDPA "
          "| max abs err |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for b in BATCHES:
        for skv in SKVS:
            g = torch.Generator(device="cuda").manual_seed(b * 7 + skv)
            q = torch.randn(b, HQ, 1, D, device="cuda", dtype=torch.bfloat16, generator=g)
            k = torch.randn(b, HKV, skv, D, device="cuda", dtype=torch.bfloat16, generator=g)
            v = torch.randn(b, HKV, skv, D, device="cuda", dtype=torch.bfloat16, generator=g)
            kv_mb = 2 * k.numel() * 2 / 1e6
            ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                                 enable_gqa=True)
            sdpa = device_ms(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
            # Paged: the same keys in shuffled 16-token pages.
            pages_per = (skv + PAGE - 1) // PAGE
            perm = torch.randperm(b * pages_per, generator=torch.Generator().manual_seed(b))
            table = perm.view(b, pages_per).to(torch.int32)
            pad = pages_per * PAGE - skv
            def pool(x):
                x = F.pad(x, (0, 0, 0, pad)).view(b, HKV, pages_per, PAGE, D)
                x = x.permute(0, 2, 3, 1, 4).reshape(b * pages_per, PAGE, HKV, D)
                out = torch.empty_like(x)
                out[perm.cuda()] = x
                return out
            lens = torch.full((b,), skv, dtype=torch.int32)
            rows = [("dense", "decode.tsr", [bits(q), bits(k), bits(v)]),
                    ("paged16", "decode_paged.tsr",
                     [bits(q), bits(pool(k)), bits(pool(v)), table.numpy(), lens.numpy()])]
            for layout, art, inputs in rows:
                res, err = run_tessera(art, inputs, env)
                if res is None:
                    print(f"| {b} | {skv} | {layout} | {kv_mb:.0f} | failed: {err} |")
                    continue
                ms, o = res
                out = torch.from_numpy(o.view(np.int16).copy()).view(torch.bfloat16).cuda()
                maxerr = (out.float() - ref).abs().max().item()
                gbs = kv_mb / 1e3 / (ms / 1e3)
                print(f"| {b} | {skv} | {layout} | {kv_mb:.0f} | {ms:.3f} | {gbs:.0f} "
                      f"| {100 * gbs / bw:.0f}% | {sdpa:.3f} | {sdpa / ms:.2f} "
                      f"| {maxerr:.3g} |", flush=True)


if __name__ == "__main__":
    main()
