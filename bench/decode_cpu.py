#!/usr/bin/env python3
"""Decode attention on the CPU (issue #9): Tessera (tessera-run) against PyTorch's
scaled_dot_product_attention on the same shapes and dtype, measured in the same run.

Decode is one query token per sequence (Sq = 1) against a long KV cache: Hq=32 query heads
share Hkv=8 K/V heads (GQA), D=128. Per call the kernel must read all of K and V once and
does ~4 flops per K/V element, so its roofline is memory bandwidth, not the FMA peak. The
table reports, per row, the time, the GB/s of K/V bytes actually read
(2 * B * Hkv * Skv * D * sizeof(T); Q and O are negligible) and that rate as a fraction of
this machine's read bandwidth, measured in the same run by bench/stream_bw.c.

Two KV layouts: `dense` (K/V tensors [B, Hkv, Skv, D]) and `paged16` (K/V in a pool of
16-token pages addressed through a per-sequence block table, the layout of serving engines).
Pools are [pages, PAGE, Hkv, D] and both sides use the same random block table. PyTorch has
no paged SDPA, so for paged rows it runs on K/V gathered from the pool before timing. Tessera's
paged column (tessera_paged) runs `tessera.attention ... paged(%block_table, %kv_lens)` on
the pools; DECODE_TESSERA_PAGED=0 leaves it out.

Environment (defaults = the full table of issue #9, 36 rows):
  DECODE_B="1,8,32"  DECODE_SKV="1024,4096,16384"  DECODE_DTYPES="f32,bf16"
  DECODE_LAYOUTS="dense,paged16"  DECODE_REPS=10  DECODE_TESSERA_PAGED=1  BUILD_DIR=build
"""
import os
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
RUN = os.path.join(BUILD, "bin", "tessera-run")
HQ, HKV, D, PAGE = 32, 8, 128, 16


def env_list(name, default, conv=str):
    return [conv(x.strip()) for x in os.environ.get(name, default).split(",") if x.strip()]


BATCHES = env_list("DECODE_B", "1,8,32", int)
SKVS = env_list("DECODE_SKV", "1024,4096,16384", int)
DTYPES = env_list("DECODE_DTYPES", "f32,bf16")
LAYOUTS = env_list("DECODE_LAYOUTS", "dense,paged16")
REPS = int(os.environ.get("DECODE_REPS", "10"))
TESSERA_PAGED = os.environ.get("DECODE_TESSERA_PAGED", "1") == "1"
# A row whose reps would take longer than this gets BIG_REPS reps instead (never skipped).
ROW_BUDGET_S, BIG_REPS = 120.0, 3
ELEM_BYTES = {"f32": 4, "bf16": 2}


def kv_bytes(b, skv, dtype):
    """Bytes of K and V a decode step must read: each once."""
    return 2 * b * HKV * skv * D * ELEM_BYTES[dtype]


class RepsCap:
    """Caps reps for rows predicted to exceed ROW_BUDGET_S. One per (layout, dtype) of a
    column: rows run smallest first, so the rate (seconds per K/V byte) of the previous,
    largest so far, row predicts the next one."""

    def __init__(self):
        self.s_per_byte = 0.0

    def reps(self, nbytes):
        predicted = nbytes * self.s_per_byte * (REPS + 1)  # +1: the warm-up call
        return REPS if predicted <= ROW_BUDGET_S else min(REPS, BIG_REPS)

    def saw(self, nbytes, ms):
        self.s_per_byte = ms * 1e-3 / nbytes


def block_table(b, skv):
    """A random block table [B, Skv / PAGE]: every sequence's pages are scattered over one
    pool of B * Skv / PAGE pages, as an allocator hands them out. Seeded, so that Tessera
    and PyTorch read the same layout."""
    assert skv % PAGE == 0, f"Skv={skv} is not a multiple of the page size {PAGE}"
    pages = skv // PAGE
    perm = list(range(b * pages))
    random.Random(0).shuffle(perm)
    return [perm[i * pages:(i + 1) * pages] for i in range(b)]


def run_tessera(path, reps, tmp):
    """Runs one module under `tessera-run --bench` and returns its median time in ms."""
    cmd = [RUN, path, "--random-inputs=1", f"--bench={reps}",
           f"--cache-dir={os.path.join(tmp, 'cache')}"]
    for attempt in range(3):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
            break
        except OSError as e:  # e.g. the binary is being relinked: wait and retry
            if attempt == 2:
                sys.exit(f"cannot start {RUN}: {e}")
            time.sleep(30)
    if p.returncode != 0:
        sys.exit(f"tessera-run failed on {path}:\n{p.stdout}\n{p.stderr}")
    return float(re.search(r"median ([0-9.]+) ms", p.stdout).group(1))


def tessera_dense(b, skv, dtype, reps, tmp):
    """Dense decode: Q [B, Hq, 1, D], K/V [B, Hkv, Skv, D]; GQA is implied by Hq/Hkv."""
    q = f"tensor<{b}x{HQ}x1x{D}x{dtype}>"
    kv = f"tensor<{b}x{HKV}x{skv}x{D}x{dtype}>"
    lse = f"tensor<{b}x{HQ}x1xf32>"
    path = os.path.join(tmp, f"decode_{b}_{skv}_{dtype}.mlir")
    with open(path, "w") as f:
        f.write(f"func.func @decode(%q: {q}, %k: {kv}, %v: {kv}) -> {q} {{\n"
                f"  %o, %l = tessera.attention %q, %k, %v : {q}, {kv}, {kv} -> {q}, {lse}\n"
                f"  return %o : {q}\n}}\n")
    return run_tessera(path, reps, tmp)


def tessera_paged(b, skv, dtype, reps, tmp):
    """Paged decode: Q [B, Hq, 1, D], K/V page pools [pages, PAGE, Hkv, D] (the same bytes
    as dense K/V), the block table and lengths (all Skv) as constants of the module. The
    single place for Tessera's paged column: returns None (n/a in the table) with
    DECODE_TESSERA_PAGED=0."""
    if not TESSERA_PAGED:
        return None
    table = block_table(b, skv)
    q = f"tensor<{b}x{HQ}x1x{D}x{dtype}>"
    pool = f"tensor<{b * len(table[0])}x{PAGE}x{HKV}x{D}x{dtype}>"
    tt, lt = f"tensor<{b}x{len(table[0])}xi32>", f"tensor<{b}xi32>"
    rows = ", ".join("[" + ", ".join(map(str, r)) + "]" for r in table)
    path = os.path.join(tmp, f"decode_paged_{b}_{skv}_{dtype}.mlir")
    with open(path, "w") as f:
        f.write(f"func.func @decode(%q: {q}, %kp: {pool}, %vp: {pool}) -> {q} {{\n"
                f"  %table = arith.constant dense<[{rows}]> : {tt}\n"
                f"  %lens = arith.constant dense<{skv}> : {lt}\n"
                f"  %o, %l = tessera.attention %q, %kp, %vp paged(%table, %lens : {tt}, {lt})"
                f" {{page_size = {PAGE}}} : {q}, {pool}, {pool} -> {q}, "
                f"tensor<{b}x{HQ}x1xf32>\n  return %o : {q}\n}}\n")
    return run_tessera(path, reps, tmp)


TESSERA = {"dense": tessera_dense, "paged16": tessera_paged}


def median_ms(fn, reps):
    """Median wall time of reps calls after one warm-up call (as attention_cpu.py)."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def mem_available():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 1 << 62


def torch_kv(torch, b, skv, dt, layout, gen):
    """K and V as [B, Hkv, Skv, D]. For paged16 they are built the way a serving engine
    stores them, in a pool of pages [pages, PAGE, Hkv, D] addressed through block_table(),
    then gathered (before any timing) into dense tensors, one tensor at a time so that at
    most one pool and its gathered copies are alive."""
    if layout == "dense":
        return [torch.randn(b, HKV, skv, D, generator=gen, dtype=dt) for _ in range(2)]
    table = torch.tensor(block_table(b, skv))
    out = []
    for _ in range(2):
        pool = torch.randn(table.numel(), PAGE, HKV, D, generator=gen, dtype=dt)
        picked = pool[table]  # [B, pages, PAGE, Hkv, D]
        del pool
        out.append(picked.permute(0, 3, 1, 2, 4).reshape(b, HKV, skv, D).contiguous())
        del picked
    return out


def torch_column(configs, caps):
    """PyTorch SDPA median ms and reps per row (empty without torch), its version and a
    footnote on how GQA was run."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}, {}, "not installed", ""
    torch.set_num_threads(os.cpu_count())
    dtypes = {"f32": torch.float32, "bf16": torch.bfloat16}
    # enable_gqa (torch >= 2.5) lets SDPA read the 8 K/V heads directly; older versions
    # get K/V repeated to 32 heads before timing (4x the memory, not counted as read).
    try:
        F.scaled_dot_product_attention(torch.zeros(1, 4, 1, 8), torch.zeros(1, 2, 4, 8),
                                       torch.zeros(1, 2, 4, 8), enable_gqa=True)
        gqa = True
    except (TypeError, RuntimeError):
        gqa = False
    times, reps_used = {}, {}
    for b, skv, dtype, layout in configs:
        nbytes = kv_bytes(b, skv, dtype)
        if not gqa and nbytes * (1 + HQ // HKV) > 0.8 * mem_available():
            times[(b, skv, dtype, layout)] = None  # the repeated K/V would not fit
            continue
        gen = torch.Generator().manual_seed(0)
        q = torch.randn(b, HQ, 1, D, generator=gen, dtype=dtypes[dtype])
        k, v = torch_kv(torch, b, skv, dtypes[dtype], layout, gen)
        if gqa:
            run = lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        else:
            k = k.repeat_interleave(HQ // HKV, dim=1)
            v = v.repeat_interleave(HQ // HKV, dim=1)
            run = lambda: F.scaled_dot_product_attention(q, k, v)
        reps = caps[(layout, dtype)].reps(nbytes)
        ms = median_ms(run, reps)
        caps[(layout, dtype)].saw(nbytes, ms)
        times[(b, skv, dtype, layout)], reps_used[(b, skv, dtype, layout)] = ms, reps
        del q, k, v, run  # free this row's K/V before the next row allocates its own
    note = ("" if gqa else
            "\nPyTorch has no enable_gqa here: its K/V were repeat_interleaved to 32 heads "
            "before timing (it reads 4x the bytes; GB/s still counts the 8-head K/V).")
    return times, reps_used, torch.__version__, note


def cpu_description():
    model, flags = "unknown CPU", set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and model == "unknown CPU":
            model = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE only"
    return model, isa


def main():
    # Rows ordered as printed; each column is measured smallest K/V first (for RepsCap).
    configs = [(b, skv, dtype, layout) for dtype in DTYPES for b in BATCHES for skv in SKVS
               for layout in LAYOUTS]
    by_size = sorted(configs, key=lambda c: kv_bytes(*c[:3]))
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "stream_bw")
        subprocess.run(["cc", "-O3", "-march=native", "-fopenmp",
                        os.path.join(ROOT, "bench", "stream_bw.c"), "-o", exe], check=True)

        def stream():
            return float(subprocess.run([exe], capture_output=True, text=True,
                                        check=True).stdout)
        # Bandwidth is measured before, between and after the two columns: on a shared
        # (virtual) machine it drifts during a run; the best of the three is the roofline.
        bws = [stream()]
        # Tessera first, before PyTorch's thread pool exists: on a small machine its spinning
        # workers would otherwise steal cores from the next measurement.
        ours, ours_reps = {}, {}
        caps = {(c[3], c[2]): RepsCap() for c in configs}
        for c in by_size:
            b, skv, dtype, layout = c
            nbytes = kv_bytes(b, skv, dtype)
            reps = caps[(layout, dtype)].reps(nbytes)
            ms = TESSERA[layout](b, skv, dtype, reps, tmp)
            if ms is not None:
                caps[(layout, dtype)].saw(nbytes, ms)
            ours[c], ours_reps[c] = ms, reps
        bws.append(stream())
        peers, peers_reps, torch_version, note = torch_column(
            by_size, {(c[3], c[2]): RepsCap() for c in configs})
        bws.append(stream())
    bw = max(bws)

    model, isa = cpu_description()
    print(f"CPU: {model}, {os.cpu_count()} cores, {isa}; measured read bandwidth "
          f"{bw:.1f} GB/s (bench/stream_bw.c, all cores; best of "
          f"{' / '.join(f'{x:.1f}' for x in bws)} before / between / after the columns); "
          f"torch {torch_version}")
    print(f"decode attention: Sq=1, Hq={HQ}, Hkv={HKV}, D={D}, pages of {PAGE} tokens; "
          f"median of {REPS} (of {BIG_REPS} where marked *)\n")
    print("| B | Skv | layout | dtype | K/V MB | Tessera ms | GB/s | % BW | torch ms "
          "| torch GB/s | torch % BW | x vs torch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    met = considered = 0
    for c in configs:
        b, skv, dtype, layout = c
        nbytes = kv_bytes(b, skv, dtype)
        ms, tms = ours[c], peers.get(c)
        star = "*" if ours_reps[c] < REPS else ""
        if ms is None:
            mine = "n/a (DECODE_TESSERA_PAGED=0) | | "  # see tessera_paged()
        else:
            gbs = nbytes / (ms * 1e6)
            mine = f"{ms:.2f}{star} | {gbs:.1f} | {100 * gbs / bw:.0f}%"
        if tms is None:
            theirs = "n/a | | "
        else:
            tgbs = nbytes / (tms * 1e6)
            tstar = "*" if peers_reps[c] < REPS else ""
            theirs = f"{tms:.2f}{tstar} | {tgbs:.1f} | {100 * tgbs / bw:.0f}%"
        ratio = f"{tms / ms:.2f}" if ms is not None and tms is not None else "n/a"
        print(f"| {b} | {skv} | {layout} | {dtype} | {nbytes / 1e6:.0f} | {mine} | {theirs} "
              f"| {ratio} |")
        if skv >= 4096 and ms is not None and tms is not None:
            considered += 1
            met += tms / ms >= 1.0 and nbytes / (ms * 1e6) >= 0.7 * bw
    print(f"\nGB/s = K/V bytes read (2 x B x Hkv x Skv x D x sizeof) / time; % BW = of the "
          f"measured {bw:.1f} GB/s. x > 1: Tessera is faster. Paged rows: PyTorch runs on the "
          "K/V gathered from the page pool before timing." + note)
    print(f"Goal of issue #9 (>= 1.0x torch and >= 70% BW at Skv >= 4k): met in {met} of "
          f"{considered} rows measured on both sides.")


if __name__ == "__main__":
    main()
