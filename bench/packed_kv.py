"""Packed-KV formats for the decode benchmarks (issue #10): their MLIR types, the bytes they
store, and a plain PyTorch decoder of each, shared by bench/decode_packed_cpu.py (CPU) and
bench/gpu/decode.py --packed (GPU; prepare.sh copies this file into the kit).

The PyTorch decoders are the peer "dequantize, then SDPA": they read the same packed
components Tessera reads and never see the f32 K/V.
  * int: codes unpacked from the LSB-first bit stream, (code - 2^(b-1)) * scale of the group.
  * tq_mse, block_gtq, lattice: decoded *in the rotated domain*, as Tessera's attention does
    (docs/quantization.md): y_p = table[p, code_p] * norm[segment of p]; the query is rotated
    into K's domain first (q M_K^T) and the output back from V's (o M_V). SDPA itself runs on
    the decoded f32 (or bf16) rotated K/V.
Unpacking is byte-wise for 8-bit codes, a nibble split for 4-bit codes and a two-byte gather
+ shift + mask otherwise; TQ-MSE indexes its one codebook, Block-GTQ gathers from a codebook
per position, lattice codes are multiplied by the step. Every call decodes the whole cache to
f32 (bf16 on the GPU) before SDPA: that is the cost this peer pays and Tessera does not.
The tables (codebook per rotated position, or the lattice step) and the rotations M are not
re-derived here: they are measured from Tessera's own `tessera.dequantize` on probe rows
(`probe_rows` + `tables_from_probe`), so that a mismatch shows up as an output error rather
than as a silently different codec. Dequantize is linear in the code values at a fixed norm:
row 0 holds the smallest code everywhere, row 1 + p differs only at rotated position p, so
row 1 + p minus row 0 is (table[p, hi] - table[p, lo]) times row p of M; the remaining rows
hold code j everywhere (clamped to each position's width) and M times them gives table[:, j].
"""
try:
    import numpy as np
except ImportError:  # --emit-gpu (prepare.sh) needs only the module texts
    np = None
import re

HQ, HKV, D = 32, 8, 128

# Block-GTQ at an average of 3 bits for D = 128: 16 RoPE blocks at 4 bits, 32 at 3, 16 at 2
# (dim counts 32, 64, 32: powers of two, as a Hadamard rotation per width needs).
GTQ_BITS = [4] * 16 + [3] * 32 + [2] * 16

FORMATS = {  # name: (K scheme, V scheme), the body of #tessera.quant<...>
    "int8": ("int, bits = 8", "int, bits = 8"),
    "int4": ("int, bits = 4, group = 32", "int, bits = 4, group = 32"),
    "tq3": ("tq_mse, bits = 3, rotation = hadamard, seed = 1, norm = f32",
            "tq_mse, bits = 3, rotation = hadamard, seed = 2, norm = f32"),
    "tq4": ("tq_mse, bits = 4, rotation = hadamard, seed = 1, norm = f32",
            "tq_mse, bits = 4, rotation = hadamard, seed = 2, norm = f32"),
    "k3v3": ("block_gtq, bits = [" + ", ".join(map(str, GTQ_BITS)) +
             "], rotation = hadamard, seed = 11, norm = f32",
             "tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16"),
    "e8": ("lattice, lattice = e8, snr = 18.0, rotation = hadamard, seed = 1",
           "lattice, lattice = e8, snr = 18.0, rotation = hadamard, seed = 2"),
}
DESCRIPTION = {
    "int8": "int8 per row (K and V)",
    "int4": "int4, groups of 32 (K and V)",
    "tq3": "TQ-MSE 3 bits, f32 norms (K and V)",
    "tq4": "TQ-MSE 4 bits, f32 norms (K and V)",
    "k3v3": "K3V3: Block-GTQ K avg 3 bits (16x4, 32x3, 16x2), TQ-MSE 3 V, f16 V norms",
    "e8": "lattice E8, snr = 18 dB, f32 norms (K and V)",
}


def qtype(shape, elt, scheme):
    return f"!tessera.qtensor<{shape}x{elt}, #tessera.quant<{scheme}>>"


def layout(scheme):
    """How the codes of one row of `scheme` are laid out: (kind, per-position bit offset,
    per-position width, per-position norm segment, group or None). For the rotated schemes
    positions are those of the rotated row as stored (Block-GTQ: segments widest first)."""
    name = scheme.split(",")[0].strip()
    field = dict(p.split("=", 1) for p in
                 [x.strip() for x in scheme.split("[")[0].split(",")[1:]] if "=" in p)
    field = {k.strip(): v.strip() for k, v in field.items()}
    if name == "int":
        b = int(field["bits"])
        group = int(field.get("group", D))
        return "int", np.arange(D) * b, np.full(D, b), None, group
    if name == "tq_mse":
        b = int(field["bits"])
        return "rot", np.arange(D) * b, np.full(D, b), np.zeros(D, np.int64), None
    if name == "lattice":
        return "lattice", np.arange(D) * 8, np.full(D, 8), np.zeros(D, np.int64), None
    if name == "block_gtq":
        bits = [int(x) for x in scheme.split("[")[1].split("]")[0].split(",")]
        offs, widths, segs, byte = [], [], [], 0
        for s, w in enumerate(sorted(set(bits), reverse=True)):
            n = 2 * bits.count(w)
            offs += [byte * 8 + i * w for i in range(n)]
            widths += [w] * n
            segs += [s] * n
            byte += (n * w + 7) // 8
        return "rot", np.array(offs), np.array(widths), np.array(segs), None
    raise ValueError(scheme)


def pack_bits(codes, offs, widths, nbytes):
    """Packs integer codes [rows, D] into LSB-first bit streams [rows, nbytes] (i8)."""
    out = np.zeros((codes.shape[0], nbytes + 1), np.uint16)
    for p in range(codes.shape[1]):
        byte, shift = offs[p] // 8, offs[p] % 8
        v = (codes[:, p].astype(np.uint32) & ((1 << widths[p]) - 1)) << shift
        out[:, byte] |= (v & 0xFF).astype(np.uint16)
        out[:, byte + 1] |= (v >> 8).astype(np.uint16)
    return out[:, :nbytes].astype(np.uint8).view(np.int8)


def probe_rows(scheme, nbytes, nsegs):
    """Codes [R, nbytes] and unit norms for the probe (see the module docstring), or None
    for `int` (its decode needs no table)."""
    kind, offs, widths, _, _ = layout(scheme)
    if kind == "int":
        return None
    lo = np.zeros(D, np.int64)
    if kind == "lattice":
        hi = np.full(D, 2)
        levels = []
    else:
        hi = (1 << widths) - 1
        levels = [np.minimum(j, hi) for j in range(1 << int(widths.max()))]
    rows = [lo]
    for p in range(D):
        r = lo.copy()
        r[p] = hi[p]
        rows.append(r)
    rows += levels
    codes = pack_bits(np.stack(rows), offs, widths, nbytes)
    norms = np.ones((len(rows),) + ((nsegs,) if nsegs else ()), np.float32)
    return codes, norms


def tables_from_probe(scheme, x):
    """From the dequantized probe rows x [R, D]: the rotation M [D, D] (rotated = M x) and
    the decode table [D, T] indexed by the unsigned code (T = 2^max width, or 256 for
    lattice codes, whose table is code * step)."""
    kind, offs, widths, _, _ = layout(scheme)
    x = x.astype(np.float64)
    diff = x[1:D + 1] - x[0]
    scale = np.linalg.norm(diff, axis=1)
    m = diff / scale[:, None]
    if kind == "lattice":
        step = scale / 2.0  # code 2 minus code 0
        codes = np.arange(256).astype(np.uint8).view(np.int8).astype(np.float64)
        table = step[:, None] * codes[None, :]
    else:
        table = (m @ x[D + 1:].T)  # [D, levels]: y_p of the row holding code j
        # Positions narrower than the widest hold their top code beyond 2^w - 1 (clamped).
    return m.astype(np.float32), table.astype(np.float32)


class TorchCodec:
    """A PyTorch decoder of one scheme's components (see the module docstring)."""

    def __init__(self, torch, scheme, tables=None, device="cpu"):
        self.t = torch
        kind, offs, widths, segs, group = layout(scheme)
        self.kind, self.group = kind, group
        self.byte = torch.tensor(offs // 8, device=device)
        self.shift = torch.tensor(offs % 8, dtype=torch.int32, device=device)
        self.mask = torch.tensor((1 << widths) - 1, dtype=torch.int32, device=device)
        self.bits = int(widths[0])
        self.uniform = bool((widths == widths[0]).all()) and int(segs.max() if segs is not None
                                                              else 0) == 0
        if kind != "int":
            m, table = tables
            self.m = torch.tensor(m, device=device)
            ntab = table.shape[1]
            self.table = torch.tensor(table, device=device).reshape(-1)
            self.base = torch.arange(D, device=device) * ntab
            self.segs = torch.tensor(segs, device=device)
            self.multi_seg = int(segs.max()) > 0
            # One codebook for every position (tq_mse), or a step per position (lattice):
            # a plain index or multiply instead of the per-position gather.
            self.table1 = self.table[:ntab] if self.uniform and bool(
                (table == table[:1]).all()) else None
            self.step = torch.tensor(table[:, 1], device=device)  # lattice: code 1 * step

    def unpack(self, codes):
        """Codes i8 [..., nbytes] -> integer codes i32 [..., D] (LSB-first bit stream)."""
        t = self.t
        if self.uniform and self.bits == 8:
            return codes.view(t.uint8).to(t.int32)
        if self.uniform and self.bits == 4:
            u = codes.view(t.uint8)
            return t.stack((u & 15, u >> 4), -1).flatten(-2).to(t.int32)
        u = codes.view(t.uint8).to(t.int32)
        u = t.nn.functional.pad(u, (0, 1))
        lo = u.index_select(-1, self.byte)
        hi = u.index_select(-1, self.byte + 1)
        return ((lo | (hi << 8)) >> self.shift) & self.mask

    def decode(self, parts, dtype):
        """The K or V rows [..., D] (rotated domain for rotated schemes) in `dtype`."""
        t = self.t
        c = self.unpack(parts[0])
        if self.kind == "int":
            scales = parts[1].to(dtype)
            q = (c - (1 << (self.bits - 1))).to(dtype)
            return (q.unflatten(-1, (-1, self.group)) * scales.unsqueeze(-1)).flatten(-2)
        if self.kind == "lattice":
            y = parts[0].to(t.float32) * self.step
        elif self.table1 is not None:
            y = self.table1[c.to(t.int64)]
        else:
            y = t.take(self.table, c.to(t.int64) + self.base)
        norms = parts[1].to(t.float32)
        n = norms.index_select(-1, self.segs) if self.multi_seg else norms.unsqueeze(-1)
        return (y * n).to(dtype)

    def rotate_in(self, q):
        return q if self.kind == "int" else q @ self.m.to(q.dtype).T

    def rotate_out(self, o):
        return o if self.kind == "int" else o @ self.m.to(o.dtype)


def torch_packed_attention(torch, kc, vc, q, kparts, vparts, dtype):
    """Dequantize-then-SDPA over packed K/V (GQA via enable_gqa)."""
    F = torch.nn.functional
    k = kc.decode(kparts, dtype)
    v = vc.decode(vparts, dtype)
    o = F.scaled_dot_product_attention(kc.rotate_in(q), k, v, enable_gqa=True)
    return vc.rotate_out(o)


GPU_FORMATS = ["int4", "tq3", "k3v3", "e8"]


def probe_shape(scheme):
    """Rows of the probe of `scheme` (probe_rows), or None for `int`."""
    name = scheme.split(",")[0].strip()
    if name == "int":
        return None
    if name == "lattice":
        return D + 1
    bits = re.findall(r"bits = \[([0-9, ]+)\]|bits = ([0-9]+)", scheme)[0]
    return D + 1 + (1 << max(int(x) for x in (bits[0] or bits[1]).split(",")))


def gpu_modules(elt="bf16"):
    """{name: module text} of the packed-decode GPU artifacts (bench/gpu/prepare.sh), all
    with run-time batch and cache length: packed_quant_<fmt> (K, V -> packed components),
    packed_decode_<fmt> (Q [?, 32, 1, 128] attends over them) and, for rotated formats,
    packed_probe_<fmt> (f32 dequantize of the K and V probe rows)."""
    qt, kv = f"tensor<?x{HQ}x1x{D}x{elt}>", f"tensor<?x{HKV}x?x{D}x{elt}>"
    mods = {}
    for f in GPU_FORMATS:
        k, v = (qtype(f"?x{HKV}x?x{D}", elt, s) for s in FORMATS[f])
        mods[f"packed_quant_{f}"] = (
            f"func.func @quant(%k: {kv}, %v: {kv}) -> ({k}, {v}) {{\n"
            f"  %a = tessera.quantize %k : {kv} -> {k}\n"
            f"  %b = tessera.quantize %v : {kv} -> {v}\n"
            f"  return %a, %b : {k}, {v}\n}}\n")
        mods[f"packed_decode_{f}"] = (
            f"func.func @decode(%q: {qt}, %k: {k}, %v: {v}) -> {qt} {{\n"
            f"  %o, %l = tessera.attention %q, %k, %v : {qt}, {k}, {v} -> {qt}, "
            f"tensor<?x{HQ}x1xf32>\n  return %o : {qt}\n}}\n")
        sides = [(n, s, probe_shape(s)) for n, s in zip("kv", FORMATS[f]) if probe_shape(s)]
        if sides:
            args = ", ".join(f"%{n}: {qtype(f'1x1x{r}x{D}', 'f32', s)}" for n, s, r in sides)
            res = ", ".join(f"tensor<1x1x{r}x{D}xf32>" for _, _, r in sides)
            body = "".join(f"  %{n}x = tessera.dequantize %{n} : "
                           f"{qtype(f'1x1x{r}x{D}', 'f32', s)} -> tensor<1x1x{r}x{D}xf32>\n"
                           for n, s, r in sides)
            mods[f"packed_probe_{f}"] = (
                f"func.func @probe({args}) -> ({res}) {{\n{body}  return "
                f"{', '.join(f'%{n}x' for n, _, _ in sides)} : {res}\n}}\n")
    return mods


def probe_inputs(fmt):
    """The probe artifact's inputs of `fmt`, in order: per rotated side, codes and norms."""
    out = []
    for s in FORMATS[fmt]:
        if not probe_shape(s):
            continue
        _, offs, widths, segs, _ = layout(s)
        nbytes = int(max(offs + widths) + 7) // 8
        codes, norms = probe_rows(s, nbytes, int(segs.max()) + 1 if int(segs.max()) else 0)
        if "norm = f16" in s:
            norms = norms.astype(np.float16)
        out += [codes[None, None], norms[None, None]]
    return out


if __name__ == "__main__":
    import os
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--emit-gpu":
        for name, text in gpu_modules().items():
            with open(os.path.join(sys.argv[2], name + ".mlir"), "w") as fh:
                fh.write(text)
    else:
        sys.exit("usage: packed_kv.py --emit-gpu DIR (writes the packed-decode GPU modules)")
