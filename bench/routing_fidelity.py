#!/usr/bin/env python3
"""Routing fidelity: key-block density vs attention output error on real Q/K/V.

For the all-MiniLM-L6-v2 Q/K/V that bench/fidelity/capture_minilm.py captures (6 layers x 12
heads, D = 32, three passages of 124/161/153 tokens), runs the compiled
tessera.block_select -> tessera.attention (tessera-run, CPU) at several top-p / top_k
settings, and the static topology calibration (tessera-run --calibrate-topology) at several
error targets, and prints a markdown table of the density (kept / all key blocks) and the
relative output error ||O - O_dense|| / ||O_dense|| against dense attention computed here in
float64. Non-causal (MiniLM is an encoder), 16 x 16 blocks.

  python3 bench/routing_fidelity.py [--tessera-run=build/bin/tessera-run]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fidelity"))
import capture_minilm  # noqa: E402

BLOCK = 16


def dense_attention(q, k, v):
    s = np.einsum("hid,hjd->hij", q, k) / np.sqrt(q.shape[-1])
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("hij,hjd->hid", p, v)


def routed_module(h, t, d, select_attrs):
    qb = -(-t // BLOCK)
    kb = qb
    words = -(-kb // 32)
    q = f"tensor<1x{h}x{t}x{d}xf32>"
    m = f"tensor<1x{h}x{qb}x{words}xi32>"
    n = f"tensor<1x{h}x{qb}xi32>"
    return (
        f"func.func @route(%q: {q}, %k: {q}, %v: {q}) -> ({q}, {n}) {{\n"
        f"  %m, %n = tessera.block_select %q, %k {{block_q = {BLOCK}, block_k = {BLOCK}, "
        f"{select_attrs}}} : {q}, {q} -> {m}, {n}\n"
        f"  %o, %l = tessera.attention %q, %k, %v mask(%m : {m}) {{block_q = {BLOCK}, "
        f"block_k = {BLOCK}}} : {q}, {q}, {q} -> {q}, tensor<1x{h}x{t}xf32>\n"
        f"  return %o, %n : {q}, {n}\n}}\n")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera-run", default="build/bin/tessera-run")
    args = ap.parse_args()
    data = capture_minilm.load()
    passages = sorted(int(k[1:]) for k in data if k.startswith("q"))
    settings = [("top_p 0.5", "top_p = 0.5 : f32"), ("top_p 0.7", "top_p = 0.7 : f32"),
                ("top_p 0.9", "top_p = 0.9 : f32"), ("top_p 0.95", "top_p = 0.95 : f32"),
                ("top_p 0.9, layer cap 0.7", "top_p = 0.9 : f32, layer_top_p = 0.7 : f32"),
                ("top_k 1", "top_k = 1"), ("top_k 2", "top_k = 2"), ("top_k 4", "top_k = 4")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # Routing: every passage and layer, errors pooled per setting.
        for name, attrs in settings:
            err2 = norm2 = kept = total = 0.0
            for p in passages:
                q_all, k_all, v_all = data[f"q{p}"], data[f"k{p}"], data[f"v{p}"]
                layers, h, t, d = q_all.shape
                mod = os.path.join(tmp, f"route_{p}.mlir")
                with open(mod, "w") as f:
                    f.write(routed_module(h, t, d, attrs))
                for layer in range(layers):
                    files = []
                    for nm, a in (("q", q_all), ("k", k_all), ("v", v_all)):
                        path = os.path.join(tmp, f"{nm}.npy")
                        np.save(path, a[layer][None].astype(np.float32))
                        files.append(path)
                    o_path, n_path = os.path.join(tmp, "o.npy"), os.path.join(tmp, "n.npy")
                    run([args.tessera_run, mod, "--cache-dir=off"] +
                        [f"--input={x}" for x in files] +
                        [f"--output={o_path}", f"--output={n_path}"])
                    o = np.load(o_path)[0].astype(np.float64)
                    ref = dense_attention(*(a[layer].astype(np.float64)
                                            for a in (q_all, k_all, v_all)))
                    err2 += ((o - ref) ** 2).sum()
                    norm2 += (ref ** 2).sum()
                    nb = -(-t // BLOCK)
                    kept += np.load(n_path).sum()
                    total += h * nb * nb
            rows.append(("routing " + name, kept / total, np.sqrt(err2 / norm2)))
        # Static topology: calibrated on each (passage, layer) at a target, in-sample.
        for target in (0.05, 0.1, 0.2):
            err2 = norm2 = kept = total = 0.0
            for p in passages:
                q_all, k_all, v_all = data[f"q{p}"], data[f"k{p}"], data[f"v{p}"]
                layers, h, t, d = q_all.shape
                for layer in range(layers):
                    files = []
                    for nm, a in (("q", q_all), ("k", k_all), ("v", v_all)):
                        path = os.path.join(tmp, f"{nm}.npy")
                        np.save(path, a[layer][None].astype(np.float32))
                        files.append(path)
                    out = run([args.tessera_run, "--calibrate-topology"] + files +
                              [f"--target-error={target}", f"--block-q={BLOCK}",
                               f"--block-k={BLOCK}"])
                    ref = dense_attention(*(a[layer].astype(np.float64)
                                            for a in (q_all, k_all, v_all)))
                    nref = (ref ** 2).sum(axis=(1, 2))
                    for line in out.splitlines():
                        if line.startswith("head "):
                            parts = line.split()
                            hd = int(parts[1].rstrip(":"))
                            dens, e = float(parts[5]), float(parts[7])
                            err2 += e * e * nref[hd]
                            norm2 += nref[hd]
                            kept += dens
                            total += 1
            rows.append((f"static topology, target {target}", kept / total,
                         np.sqrt(err2 / norm2)))
    print("| selection | density (kept / all blocks) | relative output error |")
    print("|---|---|---|")
    for name, dens, err in rows:
        print(f"| {name} | {dens:.3f} | {err:.4f} |")


if __name__ == "__main__":
    main()
