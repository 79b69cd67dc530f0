#!/usr/bin/env python3
"""Decode attention over packed KV caches on the CPU (issue #10, "Speed"): Tessera's
`tessera.attention` reading each packed format directly, against the same compiled attention
over f32 K/V and against PyTorch doing dequantize-then-SDPA on the same packed data.

Shapes are decode_cpu.py's: one query token (Sq = 1), Hq = 32 query heads over Hkv = 8 K/V
heads (GQA), D = 128, B in {1, 4}, Skv in {1k, 4k}. Formats (bench/packed_kv.py): int8,
int4 (groups of 32), TQ-MSE at 3 and 4 bits, K3V3 (Block-GTQ K at an average of 3 bits, TQ-MSE
3-bit V with f16 norms) and the E8 lattice at 18 dB.

How a row is measured:
  1. Random f32 Q, K, V (NumPy, seeded) are written as .npy. One module per (B, Skv) runs
     `tessera.quantize` on K and V into every format through tessera-run once, and its
     outputs (each qtensor as its storage components) are saved as .npy.
  2. The timed module is `tessera.attention %q, %k, %v` with the packed K/V as entry
     arguments (passed as their components), run by `tessera-run --input ... --bench=N`
     (median of N calls after compilation and one warm-up). The f32 row is the same op over
     the f32 K/V.
  3. PyTorch (all cores): the packed components are loaded as tensors; each call decodes them
     with a plain torch implementation (bench/packed_kv.py: bit unpacking, scale or codebook
     gather, norm multiply; the rotated formats in the rotated domain, Q rotated in and O
     rotated out by a [D, D] matmul) and calls scaled_dot_product_attention(enable_gqa).
     Its output is compared with Tessera's (max abs err): both read the same packed bytes.
Bytes/token are K + V bytes stored per token per KV head, exact from the components' shapes
(codes plus scales or norms); GB/s = all packed K/V bytes / time; % BW is that against the
read bandwidth of bench/stream_bw.c measured before, between and after the columns (best of
three), as decode_cpu.py does.

Environment: PACKED_B="1,4"  PACKED_SKV="1024,4096"  PACKED_FORMATS="f32,int8,int4,tq3,tq4,
k3v3,e8"  PACKED_REPS=10  BUILD_DIR=build.  `--quick` (or PACKED_QUICK=1): B=1, Skv=1024 and
4096, 5 reps (well under 2 minutes).  `--markdown FILE` also writes the table into FILE's
"Packed-KV decode" section (docs/performance-cpu.md).
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import packed_kv as pk  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
RUN = os.path.join(BUILD, "bin", "tessera-run")
HQ, HKV, D = pk.HQ, pk.HKV, pk.D
QUICK = "--quick" in sys.argv or os.environ.get("PACKED_QUICK") == "1"


def env_list(name, default, conv=str):
    return [conv(x.strip()) for x in os.environ.get(name, default).split(",") if x.strip()]


BATCHES = env_list("PACKED_B", "1" if QUICK else "1,4", int)
SKVS = env_list("PACKED_SKV", "1024,4096", int)
FORMATS = env_list("PACKED_FORMATS", "f32," + ",".join(pk.FORMATS))
REPS = int(os.environ.get("PACKED_REPS", "5" if QUICK else "10"))


def tessera(path, inputs, tmp, reps=None, outputs=()):
    """Runs a module under tessera-run; returns (median ms or None, stdout)."""
    cmd = [RUN, path, f"--cache-dir={os.path.join(tmp, 'cache')}"]
    cmd += [f"--input={x}" for x in inputs] + [f"--output={x}" for x in outputs]
    if reps:
        cmd.append(f"--bench={reps}")
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
    m = re.search(r"median ([0-9.]+) ms", p.stdout)
    return (float(m.group(1)) if m else None), p.stdout


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def components(stdout):
    """The `out NAME: dtype[shape]` lines of --print-abi, in order."""
    return re.findall(r"out (\S+): (\w+)\[([0-9, ]+)\]", stdout)


def probe_tables(fmt, tmp):
    """Per K and V scheme of `fmt`: None (int) or (M, table) measured from Tessera's
    dequantize on probe rows (bench/packed_kv.py)."""
    out = []
    for side, scheme in zip("kv", pk.FORMATS[fmt]):
        kind, offs, widths, segs, _ = pk.layout(scheme)
        if kind == "int":
            out.append(None)
            continue
        nbytes = int(max(offs + widths) + 7) // 8
        nsegs = int(segs.max()) + 1 if int(segs.max()) > 0 else 0
        codes, norms = pk.probe_rows(scheme, nbytes, nsegs)
        if "norm = f16" in scheme:
            norms = norms.astype(np.float16)
        rows = codes.shape[0]
        qt = pk.qtype(f"1x1x{rows}x{D}", "f32", scheme)
        tt = f"tensor<1x1x{rows}x{D}xf32>"
        mod = write(os.path.join(tmp, f"probe_{fmt}_{side}.mlir"),
                    f"func.func @probe(%p: {qt}) -> {tt} {{\n"
                    f"  %x = tessera.dequantize %p : {qt} -> {tt}\n"
                    f"  return %x : {tt}\n}}\n")
        ci, ni, xo = (os.path.join(tmp, f"probe_{fmt}_{side}_{n}.npy") for n in "cnx")
        np.save(ci, codes[None, None])
        np.save(ni, norms[None, None])
        tessera(mod, [ci, ni], tmp, outputs=[xo])
        out.append(pk.tables_from_probe(scheme, np.load(xo)[0, 0]))
    return out


def prepare(b, skv, formats, tmp):
    """Random f32 Q/K/V and every format's packed K/V (components as .npy) for one shape.
    Returns {format: (input paths, bytes per token per KV head, total K/V bytes)}."""
    rng = np.random.default_rng(b * 100003 + skv)
    d = os.path.join(tmp, f"b{b}_s{skv}")
    os.makedirs(d, exist_ok=True)
    q, k, v = (os.path.join(d, f"{n}.npy") for n in "qkv")
    np.save(q, rng.standard_normal((b, HQ, 1, D), dtype=np.float32))
    np.save(k, rng.standard_normal((b, HKV, skv, D), dtype=np.float32))
    np.save(v, rng.standard_normal((b, HKV, skv, D), dtype=np.float32))
    tokens = b * HKV * skv
    rows = {"f32": ([q, k, v], 2 * D * 4, 2 * tokens * D * 4)}
    packed = [f for f in formats if f != "f32"]
    if not packed:
        return rows
    kv = f"tensor<{b}x{HKV}x{skv}x{D}xf32>"
    types = [pk.qtype(f"{b}x{HKV}x{skv}x{D}", "f32", s) for f in packed for s in pk.FORMATS[f]]
    body = [f"  %r{i} = tessera.quantize %{'kv'[i % 2]} : {kv} -> {t}"
            for i, t in enumerate(types)]
    mod = write(os.path.join(d, "prep.mlir"),
                f"func.func @prep(%k: {kv}, %v: {kv}) -> ({', '.join(types)}) {{\n" +
                "\n".join(body) + f"\n  return {', '.join(f'%r{i}' for i in range(len(types)))}"
                f" : {', '.join(types)}\n}}\n")
    abi = components(subprocess.run([RUN, mod, "--print-abi"], capture_output=True,
                                     text=True, check=True).stdout)
    outs = [os.path.join(d, f"{name}.npy") for name, _, _ in abi]
    tessera(mod, [k, v], tmp, outputs=outs)
    for i, f in enumerate(packed):
        paths = [q]
        nbytes = 0
        for side in (2 * i, 2 * i + 1):
            for (name, _, _), path in zip(abi, outs):
                if name.startswith(f"result{side}."):
                    paths.append(path)
                    nbytes += np.load(path, mmap_mode="r").nbytes
        rows[f] = (paths, nbytes // tokens, nbytes)
    return rows


def attention_module(b, skv, fmt, tmp):
    qt = f"tensor<{b}x{HQ}x1x{D}xf32>"
    if fmt == "f32":
        kt = vt = f"tensor<{b}x{HKV}x{skv}x{D}xf32>"
    else:
        kt, vt = (pk.qtype(f"{b}x{HKV}x{skv}x{D}", "f32", s) for s in pk.FORMATS[fmt])
    return write(os.path.join(tmp, f"decode_{fmt}_{b}_{skv}.mlir"),
                 f"func.func @decode(%q: {qt}, %k: {kt}, %v: {vt}) -> {qt} {{\n"
                 f"  %o, %l = tessera.attention %q, %k, %v : {qt}, {kt}, {vt} -> {qt}, "
                 f"tensor<{b}x{HQ}x1xf32>\n  return %o : {qt}\n}}\n")


def median_ms(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def torch_column(rows, tables):
    """Per row: (median ms, max abs error against Tessera's output), or {} without torch."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}, "not installed"
    torch.set_num_threads(os.cpu_count())
    codecs = {f: [pk.TorchCodec(torch, s, t) for s, t in zip(pk.FORMATS[f], tables[f])]
              for f in tables}
    res = {}
    with torch.no_grad():
        for key, (paths, _, _, out) in rows.items():
            fmt = key[2]
            ts = [torch.from_numpy(np.load(p)) for p in paths]
            q = ts[0]
            if fmt == "f32":
                k, v = ts[1:]
                run = lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
            else:
                kc, vc = codecs[fmt]
                # Every format here has two components per side (codes, scales/norms).
                kparts, vparts = ts[1:3], ts[3:5]
                run = lambda: pk.torch_packed_attention(torch, kc, vc, q, kparts, vparts,
                                                        torch.float32)
            ms = median_ms(run, REPS)
            err = (run() - torch.from_numpy(np.load(out))).abs().max().item()
            res[key] = (ms, err)
            del ts, run
    return res, torch.__version__


def limit(fmt, ms, f32ms, frac, nbytes, rows, shape):
    """What bounds a row, from its own numbers: bandwidth only when it reads near the STREAM
    rate; a packed row slower than the f32 row, which reads several times its bytes, is
    bound by decoding its elements."""
    if frac >= 0.5:
        return "bandwidth"
    if fmt != "f32" and f32ms and ms > f32ms:
        ratio = rows[shape + ("f32",)][2] / nbytes
        return f"decode (slower than f32, which reads {ratio:.1f}x the bytes)"
    return "kernel, not bandwidth (< 50% BW)"


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
    if "--markdown" in sys.argv:
        md = sys.argv[sys.argv.index("--markdown") + 1]
    else:
        md = None
    unknown = [f for f in FORMATS if f != "f32" and f not in pk.FORMATS]
    if unknown:
        sys.exit(f"unknown PACKED_FORMATS {unknown}; known: f32, {', '.join(pk.FORMATS)}")
    start = time.time()
    model, isa = cpu_description()
    print(f"CPU: {model}, {os.cpu_count()} cores, {isa} (from /proc/cpuinfo)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "stream_bw")
        subprocess.run(["cc", "-O3", "-march=native", "-fopenmp",
                        os.path.join(ROOT, "bench", "stream_bw.c"), "-o", exe], check=True)

        def stream():
            return float(subprocess.run([exe], capture_output=True, text=True,
                                        check=True).stdout)
        bws = [stream()]
        tables = {f: probe_tables(f, tmp) for f in FORMATS if f != "f32"}
        rows = {}  # (b, skv, fmt): (inputs, bytes/token, bytes, tessera output)
        ours = {}
        for b in BATCHES:
            for skv in SKVS:
                prepared = prepare(b, skv, FORMATS, tmp)
                for fmt in FORMATS:
                    paths, per_token, nbytes = prepared[fmt]
                    out = os.path.join(tmp, f"o_{fmt}_{b}_{skv}.npy")
                    ms, _ = tessera(attention_module(b, skv, fmt, tmp), paths, tmp,
                                    reps=REPS, outputs=[out])
                    rows[(b, skv, fmt)] = (paths, per_token, nbytes, out)
                    ours[(b, skv, fmt)] = ms
                    print(f"  tessera B={b} Skv={skv} {fmt}: {ms:.2f} ms", flush=True)
        bws.append(stream())
        peers, torch_version = torch_column(rows, tables)
        bws.append(stream())
    bw = max(bws)

    lines = [
        f"CPU: {model}, {os.cpu_count()} cores, {isa}; measured read bandwidth {bw:.1f} GB/s "
        f"(bench/stream_bw.c, all cores; best of {' / '.join(f'{x:.1f}' for x in bws)} "
        f"before / between / after the columns); load average {open('/proc/loadavg').read().split()[0]} "
        f"at the end; torch {torch_version}",
        f"packed-KV decode attention: Sq=1, Hq={HQ}, Hkv={HKV}, D={D}, f32 Q and output; "
        f"median of {REPS}",
        "",
        "| B | Skv | format | bytes/token | K/V MB | Tessera ms | GB/s | % BW | x vs f32 Tessera "
        "| torch deq+SDPA ms | x vs torch | max abs err vs torch | limited by |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (b, skv, fmt), (_, per_token, nbytes, _) in rows.items():
        ms = ours[(b, skv, fmt)]
        gbs = nbytes / (ms * 1e6)
        f32ms = ours.get((b, skv, "f32"))
        vs32 = f"{f32ms / ms:.2f}" if f32ms else "n/a"
        tms, err = peers.get((b, skv, fmt), (float("nan"), float("nan")))
        lines.append(f"| {b} | {skv} | {fmt} | {per_token} | {nbytes / 1e6:.1f} | {ms:.2f} "
                     f"| {gbs:.1f} | {100 * gbs / bw:.0f}% | {vs32} | {tms:.2f} "
                     f"| {tms / ms:.2f} | {err:.1e} | {limit(fmt, ms, f32ms, gbs / bw, nbytes, rows, (b, skv))} |")
    lines.append("")
    lines.append("bytes/token: K + V bytes stored per token per KV head (codes + scales/norms; "
                 f"f32: {2 * D * 4}). GB/s = packed K/V bytes / Tessera time; % BW of the "
                 f"measured {bw:.1f} GB/s. x > 1: Tessera's packed row is faster (than its f32 "
                 "row; than torch). torch: the f32 row is plain SDPA; packed rows decode the "
                 "packed components in torch every call, then SDPA.")
    for f in FORMATS:
        if f != "f32":
            lines.append(f"{f}: {pk.DESCRIPTION[f]}")
    if not peers:
        lines.append("PyTorch is not installed: its columns read nan (pip install torch, or "
                     "PYTHONPATH to a torch install).")
    text = "\n".join(lines)
    print("\n" + text)
    print(f"\n({time.time() - start:.0f} s)")
    if md:
        cmd = " ".join(f"{k}={os.environ[k]}" for k in
                       ("PACKED_B", "PACKED_SKV", "PACKED_FORMATS", "PACKED_REPS")
                       if k in os.environ)
        write_markdown(md, text, (cmd + " " if cmd else "") + "python3 bench/decode_packed_cpu.py"
                       + (" --quick" if QUICK else "") + " --markdown docs/performance-cpu.md")


BEGIN = "<!-- decode_packed_cpu.py: begin generated table -->"
END = "<!-- decode_packed_cpu.py: end generated table -->"


def write_markdown(path, text, cmd):
    """Replaces the generated block of the "Packed-KV decode" section of `path` (appending
    the section if missing); the hand-written reading around it stays."""
    doc = open(path).read()
    block = (f"{BEGIN}\nGenerated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by\n\n"
             f"```sh\n{cmd}\n```\n\n{text}\n{END}")
    if BEGIN in doc:
        doc = doc[:doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n## Packed-KV decode (issue #10)\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
