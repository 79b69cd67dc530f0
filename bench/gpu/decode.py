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

`--packed` (issue #10) prints the packed-KV decode table instead: for int4 (groups of 32),
TQ-MSE 3 bits, K3V3 and the E8 lattice (packed_kv.py, beside this file in the kit), bf16 Q and
output, B in {1, 4} and Skv in {1k, 4k} by default. Per row the bf16 K/V drawn by torch are
packed once by packed_quant_<fmt>.tsr on the GPU; packed_decode_<fmt>.tsr is timed on those
components (device time) against decode.tsr over the bf16 K/V (dense bf16 Tessera) and against
torch decoding the same components every call (packed_kv.TorchCodec: unpack, codebook or scale,
norm, the rotated formats in the rotated domain with Q rotated in and O out) followed by SDPA
in bf16; the torch decoders' tables are measured from packed_probe_<fmt>.tsr (Tessera's own
dequantize on probe rows). Columns: time, K+V bytes stored per token per KV head (from the
components' shapes), GB/s of packed bytes, % copy bandwidth, x vs dense bf16 Tessera, torch
ms, x vs torch, max abs error of Tessera's output against torch's over the same packed data.
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


def run_outputs(artifact, inputs, n_out, env, reps=None):
    """Runs an artifact; returns (median ms or None, [outputs]) or raises with its stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [RUNNER, os.path.join(HERE, "artifacts", artifact)]
        args += [f"--output={tmp}/o{i}.npy" for i in range(n_out)]
        if reps:
            args.append(f"--bench={reps}")
        for i, a in enumerate(inputs):
            np.save(f"{tmp}/in{i}.npy", a)
            args.append(f"--input={tmp}/in{i}.npy")
        p = subprocess.run(args, capture_output=True, text=True, env=env)
        if p.returncode:
            raise RuntimeError(p.stderr.strip() or p.stdout.strip())
        m = re.search(r"median ([0-9.]+) ms", p.stdout)
        return (float(m.group(1)) if m else None), [np.load(f"{tmp}/o{i}.npy")
                                                    for i in range(n_out)]


def packed_main(torch, F, env, bw):
    """The packed-KV decode table (--packed; see the module docstring)."""
    sys.path.insert(0, HERE)
    import packed_kv as pk
    batches = [int(x) for x in os.environ.get("DECODE_B", "1,4").split(",")]
    skvs = [int(x) for x in os.environ.get("DECODE_SKV", "1024,4096").split(",")]
    codecs = {}
    for f in pk.GPU_FORMATS:
        tables, outs = [], []
        probes = pk.probe_inputs(f)
        if probes:
            _, outs = run_outputs(f"packed_probe_{f}.tsr", probes, len(probes) // 2, env)
        for s in pk.FORMATS[f]:
            tables.append(pk.tables_from_probe(s, outs.pop(0)[0, 0])
                          if pk.probe_shape(s) else None)
        codecs[f] = [pk.TorchCodec(torch, s, t, device="cuda")
                     for s, t in zip(pk.FORMATS[f], tables)]
    print("| B | Skv | format | bytes/token | K/V MB | Tessera ms | GB/s | % copy BW "
          "| x vs dense bf16 | torch deq+SDPA ms | x vs torch | max abs err vs torch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b in batches:
        for skv in skvs:
            g = torch.Generator(device="cuda").manual_seed(b * 7 + skv)
            q = torch.randn(b, HQ, 1, D, device="cuda", dtype=torch.bfloat16, generator=g)
            k = torch.randn(b, HKV, skv, D, device="cuda", dtype=torch.bfloat16, generator=g)
            v = torch.randn(b, HKV, skv, D, device="cuda", dtype=torch.bfloat16, generator=g)
            tokens = b * HKV * skv
            try:
                dense, _ = run_outputs("decode.tsr", [bits(q), bits(k), bits(v)], 1, env, REPS)
            except RuntimeError as e:
                print(f"| {b} | {skv} | bf16 | failed: {e} |")
                continue
            sdpa = device_ms(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
            nbytes = 2 * k.numel() * 2
            gbs = nbytes / (dense * 1e6)
            print(f"| {b} | {skv} | bf16 | {2 * D * 2} | {nbytes / 1e6:.1f} | {dense:.3f} "
                  f"| {gbs:.0f} | {100 * gbs / bw:.0f}% | 1.00 | {sdpa:.3f} | {sdpa / dense:.2f} "
                  "| |", flush=True)
            for f in pk.GPU_FORMATS:
                try:
                    _, parts = run_outputs(f"packed_quant_{f}.tsr", [bits(k), bits(v)], 4, env)
                    ms, (o,) = run_outputs(f"packed_decode_{f}.tsr", [bits(q)] + parts, 1,
                                           env, REPS)
                except RuntimeError as e:
                    print(f"| {b} | {skv} | {f} | failed: {e} |")
                    continue
                nbytes = sum(p.nbytes for p in parts)
                cuda = [torch.from_numpy(p).cuda() for p in parts]
                kc, vc = codecs[f]
                run = lambda: pk.torch_packed_attention(torch, kc, vc, q, cuda[:2], cuda[2:],
                                                        torch.bfloat16)
                tms = device_ms(run)
                out = torch.from_numpy(o.view(np.int16).copy()).view(torch.bfloat16).cuda()
                err = (out.float() - run().float()).abs().max().item()
                gbs = nbytes / (ms * 1e6)
                print(f"| {b} | {skv} | {f} | {nbytes // tokens} | {nbytes / 1e6:.1f} "
                      f"| {ms:.3f} | {gbs:.0f} | {100 * gbs / bw:.0f}% | {dense / ms:.2f} "
                      f"| {tms:.3f} | {tms / ms:.2f} | {err:.3g} |", flush=True)
    print("\nbytes/token: K + V bytes per token per KV head (codes + scales/norms). x > 1: "
          "the packed Tessera row is faster (than dense bf16 Tessera; than torch). torch: "
          "dense row is SDPA on bf16 K/V; packed rows decode the components every call, then "
          "SDPA (bf16).")
    for f in pk.GPU_FORMATS:
        print(f"{f}: {pk.DESCRIPTION[f]}")


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
    if "--packed" in sys.argv:
        return packed_main(torch, F, env, bw)
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
