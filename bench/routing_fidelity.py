#!/usr/bin/env python3
"""Routing fidelity: key-block density vs attention output error, on real and synthetic Q/K/V.

Two data sets:

* `minilm`: the all-MiniLM-L6-v2 Q/K/V that bench/fidelity/capture_minilm.py captures (6 layers
  x 12 heads, D = 32, three passages of 124/161/153 tokens), non-causal (an encoder), 16 x 16
  blocks;
* `synthetic`: `clustered_sequences` below (causal, T = 1024, D = 64, Hq = 8 over Hkv = 2,
  64 x 64 blocks), whose keys come in per-block topics, the structure block routing assumes.

For each, runs the compiled tessera.block_select -> tessera.attention (tessera-run, CPU) at
several top-p / top_k settings, and static topologies: tessera-run --calibrate-topology at
several error targets, its --out-topology module then compiled and run (the constant mask that
--tessera-sparsify specialises). Density = kept / visible key blocks; error = ||O - O_dense|| /
||O_dense|| against dense attention computed here in float64, pooled over heads, layers and
sequences. bench/fidelity/run.py puts both tables in docs/fidelity.md (section 7).

  python3 bench/routing_fidelity.py [--tessera-run=build/bin/tessera-run] [--quick]
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fidelity"))
import deps  # noqa: E402

deps.ensure_numpy()
import numpy as np  # noqa: E402

import capture_minilm  # noqa: E402

SETTINGS = [("top_p 0.5", "top_p = 0.5 : f32"), ("top_p 0.7", "top_p = 0.7 : f32"),
            ("top_p 0.9", "top_p = 0.9 : f32"), ("top_p 0.95", "top_p = 0.95 : f32"),
            ("top_p 0.9, layer cap 0.7", "top_p = 0.9 : f32, layer_top_p = 0.7 : f32"),
            ("top_k 1", "top_k = 1"), ("top_k 2", "top_k = 2"), ("top_k 4", "top_k = 4")]
TARGETS = (0.05, 0.1, 0.2)
QUICK_SETTINGS = [SETTINGS[2], SETTINGS[6]]
QUICK_TARGETS = (0.1,)


def dense_attention(q, k, v, causal=False):
    """q [Hq, T, D], k/v [Hkv, T, D] -> [Hq, T, D] in float64 (GQA: head h reads h // g)."""
    g = q.shape[0] // k.shape[0]
    k, v = np.repeat(k, g, 0), np.repeat(v, g, 0)
    s = np.einsum("hid,hjd->hij", q, k) / np.sqrt(q.shape[-1])
    if causal:
        t = q.shape[1]
        s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("hij,hjd->hid", p, v)


def routed_module(hq, hkv, t, d, block, select_attrs, causal):
    qb = -(-t // block)
    words = -(-qb // 32)
    c = ", causal" if causal else ""
    q = f"tensor<1x{hq}x{t}x{d}xf32>"
    kv = f"tensor<1x{hkv}x{t}x{d}xf32>"
    m = f"tensor<1x{hkv}x{qb}x{words}xi32>"
    n = f"tensor<1x{hkv}x{qb}xi32>"
    return (
        f"func.func @route(%q: {q}, %k: {kv}, %v: {kv}) -> ({q}, {n}) {{\n"
        f"  %m, %n = tessera.block_select %q, %k {{block_q = {block}, block_k = {block}, "
        f"{select_attrs}{c}}} : {q}, {kv} -> {m}, {n}\n"
        f"  %o, %l = tessera.attention %q, %k, %v mask(%m : {m}) {{block_q = {block}, "
        f"block_k = {block}{c}}} : {q}, {kv}, {kv} -> {q}, tensor<1x{hq}x{t}xf32>\n"
        f"  return %o, %n : {q}, {n}\n}}\n")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def visible_blocks(t, block, causal):
    nb = -(-t // block)
    if not causal:
        return nb * nb
    return sum(min(nb, (min(t, (qb + 1) * block) - 1) // block + 1) for qb in range(nb))


def evaluate(tool, seqs, block, causal, settings, targets, tmp):
    """Rows (selection, density, error) over seqs: a list of (q [Hq,T,D], k, v [Hkv,T,D])."""
    rows = []
    refs = [dense_attention(*(a.astype(np.float64) for a in s), causal=causal) for s in seqs]
    files = []
    for i, s in enumerate(seqs):
        fs = []
        for nm, a in zip("qkv", s):
            path = os.path.join(tmp, f"{nm}{i}.npy")
            np.save(path, a[None].astype(np.float32))
            fs.append(path)
        files.append(fs)
    for name, attrs in settings:
        err2 = norm2 = kept = total = 0.0
        for s, ref, fs in zip(seqs, refs, files):
            hq, t, d = s[0].shape
            hkv = s[1].shape[0]
            mod = os.path.join(tmp, f"route_{hq}_{hkv}_{t}_{d}_{abs(hash(attrs))}.mlir")
            if not os.path.exists(mod):
                with open(mod, "w") as f:
                    f.write(routed_module(hq, hkv, t, d, block, attrs, causal))
            o_path, n_path = os.path.join(tmp, "o.npy"), os.path.join(tmp, "n.npy")
            run([tool, mod] + [f"--input={x}" for x in fs] +
                [f"--output={o_path}", f"--output={n_path}"])
            o = np.load(o_path)[0].astype(np.float64)
            err2 += ((o - ref) ** 2).sum()
            norm2 += (ref ** 2).sum()
            kept += np.load(n_path).sum()
            total += hkv * visible_blocks(t, block, causal)
        rows.append(("routing " + name, kept / total, np.sqrt(err2 / norm2), "compiled"))
    for target in targets:
        err2 = norm2 = kept = total = 0.0
        for i, (s, ref, fs) in enumerate(zip(seqs, refs, files)):
            mod = os.path.join(tmp, f"static_{i}.mlir")
            out = run([tool, "--calibrate-topology"] + fs +
                      [f"--target-error={target}", f"--block-q={block}", f"--block-k={block}",
                       f"--out-topology={mod}"] + (["--causal"] if causal else []))
            o_path = os.path.join(tmp, "o.npy")
            run([tool, mod] + [f"--input={x}" for x in fs] + [f"--output={o_path}"])
            o = np.load(o_path)[0].astype(np.float64)
            err2 += ((o - ref) ** 2).sum()
            norm2 += (ref ** 2).sum()
            for line in out.splitlines():
                if line.startswith("head "):
                    kept += float(line.split()[5])  # density: kept / visible blocks
                    total += 1
        rows.append((f"static topology, target {target}", kept / total, np.sqrt(err2 / norm2),
                     "compiled"))
    return rows


def minilm_sequences(quick=False):
    """(q, k, v) [12, T, 32] per (evaluation passage, layer) of the captured MiniLM."""
    data = capture_minilm.load()
    passages = sorted(int(k[1:]) for k in data if k.startswith("q"))
    layers = range(data["q0"].shape[0])
    if quick:
        passages, layers = passages[1:2], [5]
    return [(data[f"q{p}"][l], data[f"k{p}"][l], data[f"v{p}"][l])
            for p in passages for l in layers]


CLUSTER = dict(T=1024, D=64, HQ=8, HKV=2, BLOCK=64, GAMMA=4.0, BETA=6.0, TOPICS=3)


def clustered_sequences(n, seed=0):
    """The synthetic routing data: n sequences (rng = default_rng([seed, i])) of T = 1024
    tokens, D = 64, Hq = 8 over Hkv = 2. Per KV head, each 64-token key block kb has a topic
    c_kb = 6 x (a random unit vector) and its keys are c_kb + N(0, I); values N(0, I). Each
    (KV head, query block qb) picks 2 topics among its visible key blocks (kb <= qb,
    uniformly, without replacement where it can), and the queries of that block in every query
    head of the KV head's GQA group are 8 (u_a + u_b) + N(0, I), u the topics' unit vectors:
    every query attends to a few blocks, by content, and a GQA group agrees on which (routing
    picks one mask per KV head)."""
    c = CLUSTER
    t, d, hq, hkv, blk = c["T"], c["D"], c["HQ"], c["HKV"], c["BLOCK"]
    nb, g = t // blk, hq // hkv
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        u = rng.standard_normal((hkv, nb, d))
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        k = np.repeat(c["GAMMA"] * u, blk, axis=1) + rng.standard_normal((hkv, t, d))
        v = rng.standard_normal((hkv, t, d))
        q = rng.standard_normal((hq, t, d))
        for h in range(hkv):
            for qb in range(nb):
                picks = rng.choice(qb + 1, size=min(c["TOPICS"], qb + 1), replace=False)
                w = rng.uniform(0.0, 1.0, len(picks))
                q[h * g:(h + 1) * g, qb * blk:(qb + 1) * blk] += c["BETA"] * (w @ u[h, picks])
        out.append((q, k, v))
    return out


def tables(tool, quick=False, minilm=True):
    """{dataset name: rows} for both data sets (MiniLM unless minilm is False)."""
    settings = QUICK_SETTINGS if quick else SETTINGS
    targets = QUICK_TARGETS if quick else TARGETS
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        if minilm:
            out["MiniLM-L6"] = evaluate(tool, minilm_sequences(quick), 16, False, settings,
                                        targets, tmp)
        out["synthetic clustered"] = evaluate(tool, clustered_sequences(1 if quick else 4),
                                              CLUSTER["BLOCK"], True, settings, targets, tmp)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera-run", default="build/bin/tessera-run")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-minilm", action="store_true")
    args = ap.parse_args()
    try:
        res = tables(args.tessera_run, args.quick, not args.no_minilm)
    except RuntimeError as e:
        sys.exit(str(e))
    for name, rows in res.items():
        print(f"\n{name}\n")
        print("| selection | density (kept / visible blocks) | relative output error | engine |")
        print("|---|---|---|---|")
        for sel, dens, err, eng in rows:
            print(f"| {sel} | {dens:.3f} | {err:.4f} | {eng} |")


if __name__ == "__main__":
    main()
