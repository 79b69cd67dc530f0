"""Data for the fidelity bench: split-half RoPE, the synthetic Q/K/V generator, and the captured
MiniLM Q/K/V (see capture_minilm.py).

Every data set is a list of "heads": dicts with `name`, `layer`, float64 arrays `q`, `k`, `v`
[N, D] (post-RoPE for q and k, at positions 0..N-1) and `q_cal`, `k_cal` (the calibration
tokens, also post-RoPE; Block-GTQ energies are RoPE-invariant, so pre or post does not matter).
"""
import math

import numpy as np

ROPE_BASE = 10000.0


def rope_freqs(d, base=ROPE_BASE):
    """theta_i = base^(-2i/D) for block i = dims (i, i + D/2)."""
    return base ** (-2.0 * np.arange(d // 2) / d)


def rope(x, pos, base=ROPE_BASE):
    """Split-half RoPE: block i = (x_i, x_{i+D/2}) rotated by angle pos * theta_i. `pos` is a
    scalar or one position per row."""
    x = np.asarray(x, np.float64)
    d = x.shape[-1]
    h = d // 2
    ang = np.asarray(pos, np.float64)[..., None] * rope_freqs(d, base)
    c, s = np.cos(ang), np.sin(ang)
    a, b = x[..., :h], x[..., h:]
    return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)


# ---------------------------------------------------------------------------------------------
# Synthetic keys/queries with RoPE structure
# ---------------------------------------------------------------------------------------------

def synthetic_head(d, n, layer, head, seed=0, n_cal=None):
    """One synthetic attention head, documented generator:

    * Layout: split-half RoPE, block i = dims (i, i + D/2), rotation frequency
      theta_i = 10000^(-2i/D) (block 0 fastest).
    * Energy: per block, the two dims share a variance (RoPE only rotates within a block) that
      decays with frequency like in real RoPE models, where the slow (low-frequency) blocks
      carry most of the key/query energy: sigma_i^2 = (theta_i / theta_0)^(-gamma) with
      gamma = ln(R) / ln(10000^((D-2)/D)), so the slowest block has R times the energy of the
      fastest. R is drawn per head log-uniformly in [10, 300] for keys; queries use
      sqrt(R). Each block then gets a log-normal jitter (sigma 0.35).
    * Outliers: a few blocks (D/32, at least 2), chosen at random among the slower half, are
      outlier channels: keys get 6x the block's standard deviation and a constant mean of 4x
      the (new) standard deviation on the block's first dim (a fixed-sign massive activation,
      the pattern of real K caches); queries get 2x.
    * Tokens are independent draws, then scaled so E||k||^2 = D and E||q||^2 = 4D (attention
      logits of a few units); RoPE is applied at positions 0..N-1.
    * Values: per-dim standard deviations log-normal (sigma 0.5), one outlier dim at 5x, and a
      per-dim mean of N(0, 0.25) standard deviations (real V channels have offsets).
    * Calibration tokens: an independent draw of n_cal tokens from the same head.
    """
    rng = np.random.default_rng([seed, d, layer, head])
    h = d // 2
    n_cal = n_cal or n
    theta = rope_freqs(d)
    span = math.log(theta[0] / theta[-1])
    R = math.exp(rng.uniform(math.log(10), math.log(300)))
    gk = math.log(R) / span
    sk2 = (theta / theta[0]) ** (-gk) * np.exp(rng.normal(0, 0.35, h))
    sq2 = (theta / theta[0]) ** (-gk / 2) * np.exp(rng.normal(0, 0.35, h))
    n_out = max(2, d // 32)
    out_blocks = rng.choice(np.arange(h // 2, h), size=n_out, replace=False)
    sk, sq = np.sqrt(sk2), np.sqrt(sq2)
    sk[out_blocks] *= 6.0
    sq[out_blocks] *= 2.0
    mean_k = np.zeros(d)
    mean_k[out_blocks] = 4.0 * sk[out_blocks] * rng.choice([-1.0, 1.0], size=n_out)
    sdk = np.concatenate([sk, sk])
    sdq = np.concatenate([sq, sq])
    ck = math.sqrt(d / (np.sum(sdk ** 2) + np.sum(mean_k ** 2)))
    cq = math.sqrt(4 * d / np.sum(sdq ** 2))
    sdv = np.exp(rng.normal(0, 0.5, d))
    sdv[rng.integers(d)] *= 5.0
    mean_v = rng.normal(0, 0.5, d) * sdv

    def draw(m):
        k = (rng.standard_normal((m, d)) * sdk + mean_k) * ck
        q = rng.standard_normal((m, d)) * sdq * cq
        v = rng.standard_normal((m, d)) * sdv + mean_v
        return q, k, v

    q, k, v = draw(n)
    qc, kc, _ = draw(n_cal)
    pos = np.arange(n)
    return {"name": f"syn D={d} L{layer}H{head}", "layer": layer, "d": d,
            "q": rope(q, pos), "k": rope(k, pos), "v": v,
            "q_cal": rope(qc, np.arange(n_cal)), "k_cal": rope(kc, np.arange(n_cal))}


def synthetic(d, n=512, layers=4, heads=2, seed=0):
    return [synthetic_head(d, n, l, h, seed) for l in range(layers) for h in range(heads)]


# ---------------------------------------------------------------------------------------------
# MiniLM
# ---------------------------------------------------------------------------------------------

def minilm(arrays, layers=None, heads=None, eval_passages=(1, 2)):
    """Heads of all-MiniLM-L6-v2 from capture_minilm's arrays: passage 0 calibrates, each
    evaluation passage is its own sequence (RoPE at positions 0..T-1); a head's rows are the
    evaluation passages' tokens (attention stays within a passage, see run.py)."""
    nl, nh = arrays["q0"].shape[:2]
    out = []
    for l in (range(nl) if layers is None else layers):
        for h in (range(nh) if heads is None else heads):
            qc = arrays["q0"][l, h].astype(np.float64)
            kc = arrays["k0"][l, h].astype(np.float64)
            seqs = []
            for p in eval_passages:
                q = arrays[f"q{p}"][l, h].astype(np.float64)
                k = arrays[f"k{p}"][l, h].astype(np.float64)
                v = arrays[f"v{p}"][l, h].astype(np.float64)
                pos = np.arange(q.shape[0])
                seqs.append((rope(q, pos), rope(k, pos), v))
            out.append({"name": f"MiniLM L{l}H{h}", "layer": l, "d": qc.shape[-1],
                        "q": np.concatenate([s[0] for s in seqs]),
                        "k": np.concatenate([s[1] for s in seqs]),
                        "v": np.concatenate([s[2] for s in seqs]),
                        "segments": [s[0].shape[0] for s in seqs],
                        "q_cal": rope(qc, np.arange(qc.shape[0])),
                        "k_cal": rope(kc, np.arange(kc.shape[0]))})
    return out
