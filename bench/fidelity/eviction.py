"""Section 6 of docs/fidelity.md: KV-cache eviction fidelity of the compiled tessera.evict.

Two measurements, both run through tessera-run (tessera.evict, then tessera.attention over the
kept K/V, compiled in one module):

(a) needle retrieval on a synthetic task (`needle_task`, generator documented there), at KV
    budgets of 20/10/5% of the cache: did the policy keep the needle token, and does attention
    of a later query over the kept tokens still retrieve the needle's value;
(b) attention output error over the kept tokens vs the full cache on real all-MiniLM-L6-v2
    Q/K/V (`minilm_sequence`: passages 1 and 2 of capture_minilm.py as one sequence).

The NumPy references of snapkv, h2o and sink_window (`ref_kept`) run alongside on the same
inputs and the section reports how many index sets agree; dense attention in float64 checks the
compiled full-cache attention.
"""
import math
import os

import numpy as np

import capture_minilm
import deps
from tessera_ops import OpError, tt

POLICIES = ("sink_window", "snapkv", "compresskv", "h2o", "reservoir")
BUDGETS = (0.20, 0.10, 0.05)


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------

def evict_module(policy, qobs_shape, kv_shape, probe_shape, budget, attrs):
    """evict(policy) on K/V [B, Hkv, S, D] -> attention of the probe queries over the kept
    K/V. Entry arguments: [q_obs] (query policies), [scores] (h2o), k, v, probe. Results:
    the kept indices and the probe's attention output."""
    b, hkv, s, d = kv_shape
    n = min(budget, s)
    per_layer = policy == "compresskv" or "per_layer" in attrs
    kt, k2 = tt(kv_shape), tt((b, hkv, n, d))
    it = tt((b, 1 if per_layer else hkv, n), "i64")
    pt = tt(probe_shape)
    args, opnds = [], ""
    if policy in ("snapkv", "compresskv", "reservoir"):
        args.append(f"%q: {tt(qobs_shape)}")
        opnds += f" query(%q : {tt(qobs_shape)})"
    if policy == "h2o":
        args.append(f"%s: {tt((b, hkv, s))}")
        opnds += f" scores(%s : {tt((b, hkv, s))})"
    args += [f"%k: {kt}", f"%v: {kt}", f"%p: {pt}"]
    attr = ", ".join([f"budget = {budget}"] + attrs)
    lse = tt(probe_shape[:3])
    return (f"func.func @main({', '.join(args)}) -> ({it}, {pt}) {{\n"
            f"  %i, %k2, %v2 = tessera.evict {policy} %k, %v{opnds} {{{attr}}} : {kt}, {kt} "
            f"-> {it}, {k2}, {k2}\n"
            f"  %o, %l = tessera.attention %p, %k2, %v2 : {pt}, {k2}, {k2} -> {pt}, {lse}\n"
            f"  return %i, %o : {it}, {pt}\n}}\n")


def full_module(kv_shape, probe_shape):
    kt, pt = tt(kv_shape), tt(probe_shape)
    return (f"func.func @main(%k: {kt}, %v: {kt}, %p: {pt}) -> {pt} {{\n"
            f"  %o, %l = tessera.attention %p, %k, %v : {pt}, {kt}, {kt} -> {pt}, "
            f"{tt(probe_shape[:3])}\n  return %o : {pt}\n}}\n")


def policy_attrs(policy, budget, window, heads=None, first_k=4):
    """The attributes each policy runs with (the table says the same)."""
    if policy == "sink_window":
        return ["sinks = 4"]
    if policy == "snapkv":
        return [f"window = {window}"]
    if policy == "compresskv":
        return [f"window = {min(window, 8)}", "heads = array<i64: "
                + ", ".join(str(h) for h in heads) + ">", f"first_k = {first_k}"]
    if policy == "h2o":
        return [f"window = {window}"]
    return []  # reservoir: steps 2, gamma 0.9, seed 0, layer 0, step 0, sinks 0


def run_policy(ops, policy, budget, window, q_obs, scores, k, v, probe, heads=None):
    attrs = policy_attrs(policy, budget, window, heads)
    text = evict_module(policy, q_obs.shape, k.shape, probe.shape, budget, attrs)
    ins = []
    if policy in ("snapkv", "compresskv", "reservoir"):
        ins.append(q_obs)
    if policy == "h2o":
        ins.append(scores)
    idx, o = ops.run(text, ins + [k, v, probe], 2)
    return idx, o.astype(np.float64)


# ---------------------------------------------------------------------------------------------
# References (float64): observation attention, h2o scores, kept sets
# ---------------------------------------------------------------------------------------------

def softmax(x, axis=-1):
    x = x - x.max(axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis, keepdims=True)


def obs_attention(q_obs, k, w):
    """Attention rows of the last w observation queries ([B, Hq, w, S]): row i is query row
    Sw - w + i at key position S - w + i, causal (keys j <= S - w + i), as snapkv defines it."""
    b, hq, sw, d = q_obs.shape
    hkv, s = k.shape[1], k.shape[2]
    g = hq // hkv
    kk = np.repeat(k.astype(np.float64), g, axis=1)
    lg = np.einsum("bhid,bhjd->bhij", q_obs[:, :, sw - w:].astype(np.float64), kk) / math.sqrt(d)
    pos = s - w + np.arange(w)
    lg = np.where(np.arange(s)[None, :] <= pos[:, None], lg, -np.inf)
    return softmax(lg)


def h2o_scores(q_obs, k):
    """H2O's accumulated attention o_j after the observation steps: every observation row's
    causal softmax row (each a decode step's attention), summed over the rows and over the
    query heads of the KV head's GQA group -> [B, Hkv, S] f32."""
    a = obs_attention(q_obs, k, q_obs.shape[2])
    b, hq, _, s = a.shape
    hkv = k.shape[1]
    return a.sum(2).reshape(b, hkv, hq // hkv, s).sum(2).astype(np.float32)


def _topm(key, cand, m, later_first):
    """The m best candidates by key (ties: earlier token first, or later with later_first)."""
    if m <= 0:
        return np.array([], int)
    c = np.asarray(cand)
    order = np.lexsort(((c if later_first else -c), key[c]))[::-1]
    return c[order[:m]]


def ref_kept(policy, budget, window, q_obs, scores, k):
    """Reference kept index sets [B, Hkv, n] (sorted) for sink_window, snapkv and h2o
    (docs/eviction.md), or None for the others."""
    b, hkv, s, _ = k.shape
    n = min(budget, s)
    out = np.zeros((b, hkv, n), np.int64)
    if policy == "sink_window":
        keep = np.r_[0:4, s - (n - 4):s]
        out[:] = keep
        return out
    if policy == "snapkv":
        a = obs_attention(q_obs, k, window)[..., :s - window].sum(2)  # [B, Hq, S - w]
        kern = 5
        pad = np.pad(a, ((0, 0), (0, 0), (kern // 2, kern // 2)))
        pooled = sum(pad[..., i:i + a.shape[-1]] for i in range(kern)) / kern
        hq = q_obs.shape[1]
        key = pooled.reshape(b, hkv, hq // hkv, -1).mean(2)
        for bi in range(b):
            for h in range(hkv):
                top = _topm(key[bi, h], np.arange(0, s - window), n - window, False)
                out[bi, h] = np.sort(np.r_[top, s - window:s])
        return out
    if policy == "h2o":
        for bi in range(b):
            for h in range(hkv):
                top = _topm(scores[bi, h].astype(np.float64), np.arange(0, s - window),
                            n - window, True)
                out[bi, h] = np.sort(np.r_[top, s - window:s])
        return out
    return None


def dense_attention(q, k, v):
    """Non-causal softmax(q k^T / sqrt(D)) v in float64 with GQA ([B, Hq, P, D])."""
    g = q.shape[1] // k.shape[1]
    kk = np.repeat(k.astype(np.float64), g, axis=1)
    vv = np.repeat(v.astype(np.float64), g, axis=1)
    p = softmax(np.einsum("bhid,bhjd->bhij", q.astype(np.float64), kk) / math.sqrt(q.shape[-1]))
    return np.einsum("bhij,bhjd->bhid", p, vv)


# ---------------------------------------------------------------------------------------------
# (a) Synthetic needle retrieval
# ---------------------------------------------------------------------------------------------

NEEDLE = dict(S=1024, D=64, HQ=8, HKV=2, SW=32, RETRIEVAL_HEADS=(1, 6), HEAVY=16,
              BETA=8.0, KAPPA=(4.0, 12.0), KAPPA_HEAVY=6.0, TAIL=64)


def needle_task(trials, seed):
    """The synthetic retrieval task; one trial = one batch element. Per trial
    (rng = default_rng([seed, trial])), with S = 1024 tokens, D = 64, Hq = 8 query heads over
    Hkv = 2 KV heads (GQA groups {0..3}, {4..7}):

    * every key and value is N(0, I_D);
    * the needle: one position p uniform in [0, S - 64) (never in the last 64 tokens, so no
      recent window holds it), shared by both KV heads; KV head g's needle key is
      kappa * u_g + N(0, I) with u_g a random unit vector and kappa ~ U[4, 12] per trial (the
      needle's logit for an aligned query is about kappa: from hard to easy);
    * 16 heavy hitters: other positions in [0, S - 32) whose keys are 6 d_g + N(0, I), d_g a
      second random unit direction per KV head (the tokens the non-retrieval heads attend to);
    * queries: the observation window is the queries of the last Sw = 32 cache positions;
      the retrieval heads 1 (KV head 0) and 6 (KV head 1) draw 8 u_g + N(0, I) (they look for
      the needle), the other six heads 8 d_g + N(0, I) (they look at the heavy hitters);
    * the probe: one more query per head (the next decode step), drawn the same way.

    Returns q_obs [T, 8, 32, 64], k, v [T, 2, S, 64] (f32), probe [T, 8, 1, 64], needle
    positions [T]."""
    c = NEEDLE
    s, d, hq, hkv, sw = c["S"], c["D"], c["HQ"], c["HKV"], c["SW"]
    g = hq // hkv
    q_obs = np.zeros((trials, hq, sw, d), np.float32)
    probe = np.zeros((trials, hq, 1, d), np.float32)
    k = np.zeros((trials, hkv, s, d), np.float32)
    v = np.zeros((trials, hkv, s, d), np.float32)
    pos = np.zeros(trials, np.int64)
    for t in range(trials):
        rng = np.random.default_rng([seed, t])
        k[t] = rng.standard_normal((hkv, s, d))
        v[t] = rng.standard_normal((hkv, s, d))
        p = int(rng.integers(0, s - c["TAIL"]))
        others = np.setdiff1d(np.arange(s - sw), [p])
        heavy = rng.choice(others, c["HEAVY"], replace=False)
        kappa = rng.uniform(*c["KAPPA"])
        u = rng.standard_normal((hkv, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        dd = rng.standard_normal((hkv, d))
        dd /= np.linalg.norm(dd, axis=1, keepdims=True)
        for h in range(hkv):
            k[t, h, p] = kappa * u[h] + rng.standard_normal(d)
            k[t, h, heavy] = c["KAPPA_HEAVY"] * dd[h] + rng.standard_normal((len(heavy), d))
        for h in range(hq):
            direction = u[h // g] if h in c["RETRIEVAL_HEADS"] else dd[h // g]
            q_obs[t, h] = c["BETA"] * direction + rng.standard_normal((sw, d))
            probe[t, h] = c["BETA"] * direction + rng.standard_normal((1, d))
        pos[t] = p
    return q_obs, k, v, probe, pos


def rank_heads_needle(trials, seed):
    """compresskv's ranked heads for the needle task: calibration trials (another seed) rank the
    query heads by the mean attention mass their observation rows put on the needle (the
    CompressKV recipe: semantic-retrieval heads are those that attend to the retrieved
    tokens)."""
    q_obs, k, _, _, pos = needle_task(trials, seed)
    a = obs_attention(q_obs, k, q_obs.shape[2])  # [T, Hq, Sw, S]
    mass = np.mean([a[t, :, :, pos[t]].mean(-1) for t in range(trials)], axis=0)
    return [int(h) for h in np.argsort(-mass, kind="stable")], mass


def retrieved(o, v, pos, heads, hkv_of):
    """Per (trial, retrieval head): the probe output's nearest value (cosine) over the whole
    cache is the needle's value."""
    ok = []
    vn = v / np.linalg.norm(v, axis=-1, keepdims=True)
    for t in range(o.shape[0]):
        for h in heads:
            cos = vn[t, hkv_of(h)] @ o[t, h, 0]
            ok.append(int(np.argmax(cos)) == pos[t])
    return np.array(ok)


def section_needle(ops, trials, budgets, seed=0):
    c = NEEDLE
    s, g = c["S"], c["HQ"] // c["HKV"]
    q_obs, k, v, probe, pos = needle_task(trials, seed)
    scores = h2o_scores(q_obs, k)
    heads, mass = rank_heads_needle(max(8, trials // 4), seed + 1000)
    full = ops.run(full_module(k.shape, probe.shape), [k, v, probe], 1)[0].astype(np.float64)
    ref_o = dense_attention(probe, k, v)
    full_err = np.linalg.norm(full - ref_o) / np.linalg.norm(ref_o)
    full_ret = retrieved(full, v, pos, c["RETRIEVAL_HEADS"], lambda h: h // g)
    res, agree = {}, []
    for pol in POLICIES:
        for frac in budgets:
            budget = int(round(frac * s))
            idx, o = run_policy(ops, pol, budget, c["SW"], q_obs, scores, k, v, probe, heads)
            kept = np.array([[pos[t] in idx[t, min(h, idx.shape[1] - 1)]
                              for h in range(c["HKV"])] for t in range(trials)])
            ret = retrieved(o, v, pos, c["RETRIEVAL_HEADS"], lambda h: h // g)
            res[pol, frac] = (kept.mean(), ret.mean())
            r = ref_kept(pol, budget, c["SW"], q_obs, scores, k)
            if r is not None:
                agree.append((pol, frac, int(np.sum(np.all(np.sort(idx, -1) == r, -1))),
                              r.shape[0] * r.shape[1]))
    return dict(res=res, full_ret=full_ret.mean(), full_err=full_err, heads=heads, mass=mass,
                agree=agree, trials=trials, n_ret=len(full_ret))


# ---------------------------------------------------------------------------------------------
# (b) MiniLM attention output error
# ---------------------------------------------------------------------------------------------

HOLDOUT, OBS_W = 32, 8


def minilm_sequence():
    """Q/K/V [layers, heads, T, 32] of passages 1 and 2 of capture_minilm.PASSAGES encoded as
    one sequence (a single [CLS] ... [SEP]), cached next to capture_minilm's file."""
    path = os.path.join(deps.CACHE, "minilm_qkv_p12.npz")
    if os.path.exists(path):
        z = np.load(path)
        return z["q"], z["k"], z["v"]
    import json
    mdir = deps.minilm_model_dir()
    W = capture_minilm.load_safetensors(os.path.join(mdir, "model.safetensors"))
    with open(os.path.join(mdir, "config.json")) as f:
        cfg = json.load(f)
    tok = capture_minilm.WordPiece(os.path.join(mdir, "vocab.txt"))
    ids = tok.encode(capture_minilm.PASSAGES[1] + " " + capture_minilm.PASSAGES[2])
    _, caps = capture_minilm.forward(W, cfg, ids)
    q, k, v = (np.stack([c[j] for c in caps]).astype(np.float32) for j in range(3))
    os.makedirs(deps.CACHE, exist_ok=True)
    np.savez(path + ".tmp.npz", q=q, k=k, v=v)
    os.replace(path + ".tmp.npz", path)
    return q, k, v


def rank_heads_minilm(q0, k0, layer, w):
    """compresskv's ranked heads for a MiniLM layer from the calibration passage 0 (not in the
    evaluated sequence): the mass the last w rows' attention puts on the top 5% of the keys
    before the window (summed over the rows): heads that fetch a few distant tokens first."""
    q = q0[layer][None].astype(np.float64)
    k = k0[layer][None].astype(np.float64)
    a = obs_attention(q, k, w)[0, :, :, :k.shape[2] - w]  # [H, w, S - w]
    top = max(1, int(round(0.05 * a.shape[-1])))
    conc = np.sort(a, -1)[..., -top:].sum(-1).mean(-1)
    return [int(h) for h in np.argsort(-conc, kind="stable")]


def section_minilm(ops, layers, budgets):
    q, k, v = minilm_sequence()
    cal = capture_minilm.load()
    t = q.shape[2]
    s = t - HOLDOUT
    sel = list(layers)
    qo = q[sel][:, :, s - OBS_W:s]           # observation rows: the last 8 cache positions
    kc, vc = k[sel][:, :, :s], v[sel][:, :, :s]
    probe = q[sel][:, :, s:]                 # the 32 later tokens' queries
    scores = h2o_scores(qo, kc)
    full = ops.run(full_module(kc.shape, probe.shape), [kc, vc, probe], 1)[0].astype(np.float64)
    ref_o = dense_attention(probe, kc, vc)
    full_err = np.linalg.norm(full - ref_o) / np.linalg.norm(ref_o)
    nfull = np.sum(full ** 2)
    res, agree, heads_used = {}, [], {}
    ap = np.einsum("bhid,bhjd->bhij", probe.astype(np.float64),
                   kc.astype(np.float64)) / math.sqrt(probe.shape[-1])
    mass = softmax(ap).sum(2)  # [L, H, S]: the probe rows' own attention mass per key
    for frac in budgets:
        budget = int(round(frac * s))
        keep = np.argsort(-mass, -1, kind="stable")[..., :budget]
        o = np.zeros_like(ref_o)
        for li in range(len(sel)):
            for h in range(q.shape[1]):
                j = keep[li, h]
                o[li, h] = dense_attention(probe[li:li + 1, h:h + 1], kc[li:li + 1, h:h + 1, j],
                                           vc[li:li + 1, h:h + 1, j])[0, 0]
        res["oracle", frac] = (math.sqrt(np.sum((o - ref_o) ** 2) / np.sum(ref_o ** 2)), budget)
    for pol in POLICIES:
        for frac in budgets:
            budget = int(round(frac * s))
            if pol == "compresskv":  # one ranked-head list per layer: one call per layer
                o = np.zeros_like(full)
                for i, l in enumerate(sel):
                    hl = rank_heads_minilm(cal["q0"], cal["k0"], l, OBS_W)
                    heads_used[l] = hl
                    _, ol = run_policy(ops, pol, budget, OBS_W, qo[i:i + 1], None,
                                       kc[i:i + 1], vc[i:i + 1], probe[i:i + 1], hl)
                    o[i] = ol[0]
            else:
                idx, o = run_policy(ops, pol, budget, OBS_W, qo, scores, kc, vc, probe)
                r = ref_kept(pol, budget, OBS_W, qo, scores, kc)
                if r is not None:
                    agree.append((pol, frac, int(np.sum(np.all(np.sort(idx, -1) == r, -1))),
                                  r.shape[0] * r.shape[1]))
            res[pol, frac] = (math.sqrt(np.sum((o - full) ** 2) / nfull), budget)
    return dict(res=res, s=s, t=t, layers=sel, full_err=full_err, agree=agree,
                heads=heads_used, heads_n=q.shape[1])


# ---------------------------------------------------------------------------------------------

def _agree_text(agree):
    by = {}
    for pol, _, ok, n in agree:
        a = by.setdefault(pol, [0, 0])
        a[0] += ok
        a[1] += n
    return ", ".join(f"{p} {a[0]}/{a[1]}" for p, a in by.items())


def section(ops, quick, md_table, check, minilm=True):
    """The markdown of section 6. `check(ok, what)` records a failed consistency check (the
    compiled index sets against the NumPy references, the compiled attention against
    float64)."""
    trials = 8 if quick else 64
    budgets = (0.10,) if quick else BUDGETS
    lines = ["## 6. KV-cache eviction: needle retrieval and attention error", "",
             "Every number in this section comes from the compiled ops (`tessera.evict` then "
             "`tessera.attention` over the kept K/V, one module per policy and budget, run by "
             "tessera-run on the CPU; engine `compiled`). Inputs that are not the op's job are "
             "computed in NumPy: the synthetic data, h2o's accumulated scores and compresskv's "
             "head ranking (below). Alongside, the NumPy references of sink_window, snapkv and "
             "h2o (bench/fidelity/eviction.py `ref_kept`, docs/eviction.md's definitions in "
             "float64) pick their index sets from the same inputs, and float64 dense attention "
             "checks the compiled full-cache attention. Policies: docs/eviction.md; budgets are "
             "round(fraction x S) tokens.", ""]
    if not ops.available:
        return "\n".join(lines + [f"Not run: {ops.tool} not found.", ""])
    try:
        nd = section_needle(ops, trials, budgets)
    except OpError as e:
        return "\n".join(lines + ["Not run: the compiled ops failed: "
                                  + str(e).splitlines()[0], ""])
    c = NEEDLE
    lines += ["### 6a. Needle retrieval (synthetic)", "",
              f"Generator: `needle_task` in bench/fidelity/eviction.py, {nd['trials']} trials "
              "(seed 0; trial t draws from `default_rng([0, t])`), each one batch element: "
              f"S = {c['S']} cached tokens, D = {c['D']}, Hq = {c['HQ']} query heads over "
              f"Hkv = {c['HKV']} KV heads. Keys and values N(0, I). One needle position p, "
              f"uniform in [0, S - {c['TAIL']}) (outside every recent window), shared by the KV "
              "heads: KV head g's needle key is kappa u_g + N(0, I), u_g a random unit vector, "
              f"kappa ~ U[{c['KAPPA'][0]:g}, {c['KAPPA'][1]:g}] per trial (an aligned query's "
              f"logit on the needle is about kappa: hard to easy). {c['HEAVY']} heavy-hitter "
              f"tokens per trial have keys {c['KAPPA_HEAVY']:g} d_g + N(0, I) (d_g a second "
              "random direction). Query heads 1 and 6 (one per GQA group) are retrieval heads: "
              f"queries {c['BETA']:g} u_g + N(0, I); the other six heads query "
              f"{c['BETA']:g} d_g + N(0, I) (they attend to the heavy hitters). The observation "
              f"window is the queries of the last {c['SW']} cache positions; the probe is one "
              "more query per head (the next decode step) drawn the same way.", "",
              "- **kept**: fraction of (trial, KV head) pairs whose kept indices contain p "
              "(compresskv: its one per-layer set).",
              "- **retrieved**: fraction of (trial, retrieval head) pairs where the probe's "
              "attention output over the *kept* K/V is closer (cosine) to the needle's value "
              "than to any other value of the full cache. Attention over the full cache "
              f"retrieves in {nd['full_ret']:.3f} of the pairs (same definition), so that is the "
              "baseline; a kept needle can retrieve *more* often than the full cache, because "
              "eviction also removes the background the needle competes with.",
              f"- {nd['trials']} trials per cell ({nd['n_ret']} retrieval pairs, "
              f"{nd['trials'] * c['HKV']} kept pairs): a fraction's standard error is at most "
              f"{0.5 / math.sqrt(nd['trials'] * c['HKV']):.3f}.",
              "- Settings: sink_window `sinks = 4`; snapkv `window = 32` (kernel 5); compresskv "
              "`window = 8`, `first_k = 4`, `heads` = the query heads ranked by the mean "
              "attention mass their observation rows put on the needle in "
              f"{max(8, nd['trials'] // 4)} calibration trials of seed 1000 (CompressKV's "
              "recipe: retrieval heads are those that attend to the retrieved tokens), here "
              f"`{nd['heads']}`; h2o `window = 32`, scores = the observation rows' causal "
              "softmax rows summed over the rows and the KV head's query heads (each row stands "
              "for one past decode step); reservoir defaults (steps 2, gamma 0.9, seed 0, "
              "sinks 0), the observation rows as its query.", ""]
    hdr = ["policy"] + [f"kept @{int(f * 100)}%" for f in budgets] + \
        [f"retrieved @{int(f * 100)}%" for f in budgets] + ["engine"]
    rows = []
    for pol in POLICIES:
        rows.append([pol] + [f"{nd['res'][pol, f][0]:.3f}" for f in budgets]
                    + [f"{nd['res'][pol, f][1]:.3f}" for f in budgets] + ["compiled"])
    rows.append(["full cache (no eviction)"] + ["1"] * len(budgets)
                + [f"{nd['full_ret']:.3f}"] * len(budgets) + ["compiled"])
    btxt = ", ".join(f"{int(f * 100)}% = {int(round(f * c['S']))}" for f in budgets)
    for pol, frac, ok, n in nd["agree"]:
        check(ok == n, f"needle task: {pol} at {frac:.0%}: {n - ok} of {n} compiled index sets "
              "differ from the NumPy reference")
    check(nd["full_err"] < 1e-5, f"needle task: compiled attention vs float64 {nd['full_err']:.2g}")
    lines += [md_table(hdr, rows), "", f"Budgets in tokens: {btxt}. Reference check: index "
              f"sets equal to the NumPy reference: {_agree_text(nd['agree'])} (sets = "
              f"trials x KV heads x budgets); compiled full-cache attention vs float64: "
              f"relative error {nd['full_err']:.1e}.", ""]

    if not minilm:
        return "\n".join(lines + ["### 6b. Attention output error on MiniLM Q/K/V", "",
                                  "Not run (--no-minilm).", ""])
    layers = (5,) if quick else range(6)
    try:
        ml = section_minilm(ops, layers, budgets)
    except OpError as e:
        return "\n".join(lines + ["MiniLM part not run: " + str(e).splitlines()[0], ""])
    except Exception as e:  # no model wheel: say so, keep the synthetic part
        return "\n".join(lines + [f"MiniLM part not run: {type(e).__name__}: {e}", ""])
    hdr = ["policy"] + [f"rel. error @{int(f * 100)}% ({ml['res'][POLICIES[0], f][1]} tokens)"
                        for f in budgets] + ["engine"]
    rows = [[pol] + [f"{ml['res'][pol, f][0]:.4f}" for f in budgets] + ["compiled"]
            for pol in POLICIES]
    rows.append(["oracle: top-n keys by the probe's own attention mass, per head "
                 "(sees the future queries)"]
                + [f"{ml['res']['oracle', f][0]:.4f}" for f in budgets] + ["reference"])
    for pol, frac, ok, n in ml["agree"]:
        check(ok == n, f"MiniLM: {pol} at {frac:.0%}: {n - ok} of {n} compiled index sets "
              "differ from the NumPy reference")
    check(ml["full_err"] < 1e-5, f"MiniLM: compiled attention vs float64 {ml['full_err']:.2g}")
    heads_txt = "; ".join(f"L{l}: {h[:4]}" for l, h in sorted(ml["heads"].items()))
    lines += ["### 6b. Attention output error on MiniLM Q/K/V", "",
              "all-MiniLM-L6-v2 (capture_minilm.py's model and forward pass; no RoPE: the "
              "model's own Q/K as its attention consumes them), passages 1 and 2 encoded as one "
              f"sequence of T = {ml['t']} tokens (cached as minilm_qkv_p12.npz next to "
              f"minilm_qkv.npz), layers {list(ml['layers'])}, {ml['heads_n']} heads (Hq = Hkv, "
              f"D = 32). The cache is the first S = T - {HOLDOUT} = {ml['s']} tokens' K/V; the "
              f"observation window is the queries of its last {OBS_W} positions; the probe is "
              f"the queries of the {HOLDOUT} held-out later tokens (the future decode steps), "
              "attending to the whole cache (non-causal over it). Error = ||O_kept - O_full||_F "
              "/ ||O_full||_F pooled over layers, heads and probe rows, O_full = the compiled "
              "attention over the full cache. Layers run as the batch dimension (per-head sets "
              "per (layer, head)), except compresskv, one call per layer with that layer's "
              "ranking.", "",
              f"Settings: as 6a with window {OBS_W} for snapkv, compresskv and h2o (S is small); "
              "h2o scores from the 8 observation rows; compresskv `heads` per layer ranked on "
              "the calibration passage 0 (not part of the evaluated sequence) by how much of "
              "the last 8 rows' attention lands on the top 5% of the earlier keys (heads that "
              f"fetch a few distant tokens first; first four: {heads_txt}). The last row is not a "
              "policy: per (layer, head) it keeps the n keys that receive the most attention "
              "from the probe rows themselves (float64 NumPy), a reference point for what a "
              "kept set of that size can do on this data (not a strict lower bound on the "
              "error).", "",
              md_table(hdr, rows), "",
              f"Reference check: index sets equal to the NumPy reference: "
              f"{_agree_text(ml['agree'])}; compiled full-cache attention vs float64: relative "
              f"error {ml['full_err']:.1e}.", ""]
    return "\n".join(lines)
