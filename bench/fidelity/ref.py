"""Independent NumPy reference implementations of the KV quantizers of ALGORITHMS.md section 4.

Written from the algorithm text, not from the compiler's code, so that agreement between the
two means something. Everything is computed here: the Lloyd-Max codebooks come from Lloyd
iteration on the Gaussian density, lattice second moments from Monte Carlo, alpha from the
target SNR and the measured second moment. Only NumPy is needed.

  lloyd_max(bits)                 -> (centroids, boundaries) for N(0, 1) (scale by 1/sqrt(d))
  TQMSE(d, bits, rotation, seed)  -> .roundtrip(x), .bits_per_scalar   (4a)
  allocate_bits(s, avg, lo, hi)   -> greedy Block-GTQ widths            (4b)
  BlockGTQ(bits_per_block, ...)   -> .roundtrip(x), .codes_bytes        (4b)
  pack_bits / pack3 / pack4       -> the 3-bit (8 codes in 3 bytes) and 4-bit layouts
  Lattice(kind, snr_db|alpha)     -> .roundtrip(x), .rice_bits(x)       (4c)
  rice_bits(symbols)              -> (best k, total bits)
  IntQuant(bits, group)           -> the `int` scheme, bit-exact with the C++ reference
"""
import math

import numpy as np

# --------------------------------------------------------------------------------------------
# Gaussian helpers and Lloyd-Max codebooks (4a, 4d)
# --------------------------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _Phi(x):
    return 0.5 * (1.0 + _erf(np.asarray(x, np.float64) / math.sqrt(2.0)))


_LM_CACHE = {}


def lloyd_max(bits, tol=1e-12, max_iter=20000):
    """Lloyd-Max quantizer of N(0, 1) with 2^bits levels, by Lloyd iteration on the exact
    density: boundaries = midpoints of centroids, centroids = conditional means
    E[X | a < X < b] = (phi(a) - phi(b)) / (Phi(b) - Phi(a)). Starts from the quantiles of
    the cell midpoints and iterates until no centroid moves more than `tol`.
    Returns (centroids [2^bits], boundaries [2^bits - 1]), both sorted ascending."""
    if bits in _LM_CACHE:
        return _LM_CACHE[bits]
    n = 1 << bits
    # Initial centroids at quantiles (i + 0.5) / n, found by bisection on Phi.
    p = (np.arange(n) + 0.5) / n
    lo, hi = np.full(n, -10.0), np.full(n, 10.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        less = _Phi(mid) < p
        lo, hi = np.where(less, mid, lo), np.where(less, hi, mid)
    c = 0.5 * (lo + hi)
    for _ in range(max_iter):
        b = 0.5 * (c[1:] + c[:-1])
        edges = np.concatenate([[-np.inf], b, [np.inf]])
        mass = _Phi(edges[1:]) - _Phi(edges[:-1])
        num = _phi(edges[:-1]) - _phi(edges[1:])
        c_new = num / np.maximum(mass, 1e-300)
        moved = np.max(np.abs(c_new - c))
        c = c_new
        if moved < tol:
            break
    b = 0.5 * (c[1:] + c[:-1])
    _LM_CACHE[bits] = (c, b)
    return c, b


def lloyd_max_mse(bits):
    """Exact MSE of the Lloyd-Max quantizer of N(0, 1), integrated over each cell:
    E[(X - c)^2 | cell] mass = int x^2 phi - 2c int x phi + c^2 mass."""
    c, b = lloyd_max(bits)
    e = np.concatenate([[-np.inf], b, [np.inf]])
    a, z = e[:-1], e[1:]
    mass = _Phi(z) - _Phi(a)
    m1 = _phi(a) - _phi(z)
    af = np.where(np.isfinite(a), a, 0.0)
    zf = np.where(np.isfinite(z), z, 0.0)
    m2 = mass + af * _phi(a) - zf * _phi(z)  # int x^2 phi over (a, z)
    return float(np.sum(m2 - 2 * c * m1 + c * c * mass))


# --------------------------------------------------------------------------------------------
# Rotations
# --------------------------------------------------------------------------------------------


def hadamard_matrix(d):
    """Orthonormal Sylvester-Hadamard matrix (d a power of two)."""
    if d & (d - 1):
        raise ValueError(f"Hadamard needs a power-of-two dim, got {d}")
    h = np.ones((1, 1))
    while h.shape[0] < d:
        h = np.block([[h, h], [h, -h]])
    return h / math.sqrt(d)


def rotation_matrix(d, kind, seed):
    """R with y = R u: 'hadamard' = H diag(+-1) (seeded signs), 'haar' = a Haar-random
    orthogonal matrix (QR of a seeded Gaussian, signs of R's diagonal folded into Q),
    'none' = identity."""
    rng = np.random.default_rng(seed)
    if kind == "hadamard":
        signs = rng.choice([-1.0, 1.0], size=d)
        return hadamard_matrix(d) * signs[None, :]
    if kind == "haar":
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        return q * np.sign(np.diag(r))[None, :]
    if kind == "none":
        return np.eye(d)
    raise ValueError(kind)


# --------------------------------------------------------------------------------------------
# TQ-MSE (4a)
# --------------------------------------------------------------------------------------------


class TQMSE:
    """TurboQuant-MSE: n = ||x||, u = x / n, y = R u, each y_j to the nearest Lloyd-Max
    centroid for N(0, 1/d) at `bits`; decode c / ||c|| * n, then R^T. Norm stored as f32 or
    f16 (norm='f16' rounds it). Storage: ceil(d*bits/8) code bytes + one norm."""

    def __init__(self, d, bits, rotation="hadamard", seed=0, norm="f32"):
        self.d, self.bits, self.norm = d, bits, norm
        self.R = rotation_matrix(d, rotation, seed)
        c, b = lloyd_max(bits)
        self.centroids, self.boundaries = c / math.sqrt(d), b / math.sqrt(d)

    def encode(self, x):
        x = np.asarray(x, np.float64)
        n = np.linalg.norm(x, axis=-1)
        if self.norm == "f16":
            n = n.astype(np.float16).astype(np.float64)
        else:
            n = n.astype(np.float32).astype(np.float64)
        u = x / np.where(n > 0, n, 1.0)[..., None]
        y = u @ self.R.T
        codes = np.searchsorted(self.boundaries, y).astype(np.uint8)
        return codes, n

    def decode(self, codes, n):
        c = self.centroids[codes]
        c = c / np.linalg.norm(c, axis=-1, keepdims=True)
        return (c @ self.R) * n[..., None]

    def roundtrip(self, x):
        return self.decode(*self.encode(x))

    @property
    def storage_bits(self):
        """Bits per row: packed codes + the norm."""
        return 8 * ((self.d * self.bits + 7) // 8) + (16 if self.norm == "f16" else 32)

    @property
    def bits_per_scalar(self):
        return self.storage_bits / self.d


# --------------------------------------------------------------------------------------------
# Block-GTQ (4b)
# --------------------------------------------------------------------------------------------


def rope_block_energies(q, k):
    """s_i = 0.5 (mean_n ||q_n^(i)||^2 + mean_n ||k_n^(i)||^2), block i = dims (i, i + D/2)."""
    def e(x):
        x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
        h = x.shape[-1] // 2
        return np.mean(x[:, :h] ** 2 + x[:, h:] ** 2, axis=0)
    return 0.5 * (e(q) + e(k))


def allocate_bits(s, avg_bits=3.0, min_bits=1, max_bits=8):
    """Greedy allocation of ALGORITHMS.md 4b: b_i = min_bits, budget floor(L*avg_bits),
    repeatedly give one bit to argmax_i s_i 4^-b_i (first on ties) while the gain is > 0."""
    s = np.asarray(s, np.float64)
    L = len(s)
    b = np.full(L, min_bits, dtype=np.int64)
    budget = int(math.floor(L * avg_bits)) - int(b.sum())
    while budget > 0:
        gain = np.where(b >= max_bits, -1.0, s * 4.0 ** (-b.astype(np.float64)))
        i = int(np.argmax(gain))
        if gain[i] <= 0:
            break
        b[i] += 1
        budget -= 1
    return b


class BlockGTQ:
    """Block-GTQ: block i of bits[i] bits covers dims (i, i + D/2). Dims are grouped by width
    (widest first; within a group the first halves of its blocks then the second halves),
    and each group is quantized with TQ-MSE at its width and dim 2*n_w (rotation per group,
    seeded seed + group index; Hadamard only where 2*n_w is a power of two, else Haar)."""

    def __init__(self, bits_per_block, rotation="haar", seed=0, norm="f32"):
        self.bits = np.asarray(bits_per_block, np.int64)
        self.h = len(self.bits)
        self.d = 2 * self.h
        self.norm = norm
        self.groups = []
        for gi, w in enumerate(sorted(set(self.bits.tolist()), reverse=True)):
            blocks = np.nonzero(self.bits == w)[0]
            dims = np.concatenate([blocks, blocks + self.h])
            dg = len(dims)
            rot = rotation
            if rot == "hadamard" and dg & (dg - 1):
                rot = "haar"
            self.groups.append((w, dims, TQMSE(dg, int(w), rot, seed + gi, norm)))

    def roundtrip(self, x):
        x = np.asarray(x, np.float64)
        out = np.empty_like(x)
        for _, dims, q in self.groups:
            out[..., dims] = q.roundtrip(x[..., dims])
        return out

    def encode_packed(self, x):
        """Per row: concatenated packed codes of each group (3-bit and 4-bit in their
        layouts, others LSB-first) and the group norms."""
        rows = []
        for _, dims, q in self.groups:
            codes, n = q.encode(np.asarray(x, np.float64)[..., dims])
            rows.append((pack_bits(codes, q.bits), n))
        return rows

    @property
    def codes_bytes(self):
        return sum((len(dims) * int(w) + 7) // 8 for w, dims, _ in self.groups)

    @property
    def storage_bits(self):
        normb = 16 if self.norm == "f16" else 32
        return 8 * self.codes_bytes + normb * len(self.groups)

    @property
    def bits_per_scalar(self):
        return self.storage_bits / self.d


def pack_bits(codes, bits):
    """LSB-first bit stream of each row of `codes` (each < 2^bits): code j occupies bits
    [j*bits, (j+1)*bits) of the row's bytes. For 3 bits this is exactly the layout
    b0=c0|c1<<3|c2<<6, b1=c2>>2|c3<<1|c4<<4|c5<<7, b2=c5>>1|c6<<2|c7<<5; for 4 bits, two
    codes per byte, low nibble first (see pack3/pack4, which spell the layouts out)."""
    codes = np.asarray(codes, np.uint16)
    lead, n = codes.shape[:-1], codes.shape[-1]
    flat = codes.reshape(-1, n)
    bitplanes = ((flat[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(flat.shape[0], -1)
    nbytes = (n * bits + 7) // 8
    pad = np.zeros((flat.shape[0], nbytes * 8 - bitplanes.shape[1]), np.uint8)
    bitplanes = np.concatenate([bitplanes, pad], axis=1)
    return np.packbits(bitplanes, axis=1, bitorder="little").reshape(*lead, nbytes)


def unpack_bits(packed, bits, n):
    packed = np.asarray(packed, np.uint8)
    lead = packed.shape[:-1]
    flat = packed.reshape(-1, packed.shape[-1])
    planes = np.unpackbits(flat, axis=1, bitorder="little")[:, : n * bits].reshape(-1, n, bits)
    return (planes.astype(np.uint16) << np.arange(bits)).sum(-1).astype(np.uint8).reshape(*lead, n)


def pack3(c):
    """The 3-bit layout of ALGORITHMS.md 4b, written out: 8 codes in 3 bytes."""
    c = np.asarray(c, np.uint32).reshape(-1, 8)
    b0 = c[:, 0] | c[:, 1] << 3 | c[:, 2] << 6
    b1 = c[:, 2] >> 2 | c[:, 3] << 1 | c[:, 4] << 4 | c[:, 5] << 7
    b2 = c[:, 5] >> 1 | c[:, 6] << 2 | c[:, 7] << 5
    return (np.stack([b0, b1, b2], 1) & 0xFF).astype(np.uint8).reshape(-1)


def pack4(c):
    """4-bit: two codes per byte, low nibble first."""
    c = np.asarray(c, np.uint32).reshape(-1, 2)
    return (c[:, 0] | c[:, 1] << 4).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Lattices, Rice coding (4c)
# --------------------------------------------------------------------------------------------

LATTICE_DIM = {"e8": 8, "d4": 4, "a2": 2, "z": 1}
# Fundamental-cell volume of the scale used here: Z^n and E8 are unimodular, D4 has index 2
# in Z^4, A2 with unit minimal distance has area sqrt(3)/2.
LATTICE_VOLUME = {"e8": 1.0, "d4": 2.0, "a2": math.sqrt(3) / 2, "z": 1.0}
SQRT3 = math.sqrt(3.0)


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def nearest_dn(x):
    """Conway-Sloane D_n decoder: round every coordinate (f(x)); where the sum is odd, round
    the coordinate with the largest rounding error the other way."""
    f = _round_half_away(x)
    odd = (np.sum(f, axis=-1) % 2) != 0
    if np.any(odd):
        err = x - f
        j = np.argmax(np.abs(err), axis=-1)
        rows = np.nonzero(odd)[0]
        jj = j[rows]
        e = err[rows, jj]
        f[rows, jj] += np.where(e >= 0, 1.0, -1.0)
    return f


def nearest_point(kind, x):
    """Nearest lattice point of each row of x ([N, n])."""
    if kind == "z":
        return _round_half_away(x)
    if kind == "d4":
        return nearest_dn(x)
    if kind == "e8":
        a = nearest_dn(x)
        b = nearest_dn(x - 0.5) + 0.5
        da = np.sum((x - a) ** 2, -1)
        db = np.sum((x - b) ** 2, -1)
        return np.where((da <= db)[:, None], a, b)
    if kind == "a2":
        # Hexagonal lattice, minimal distance 1: the union of the rectangular lattice
        # Z x sqrt(3)Z and its translate by (1/2, sqrt(3)/2); decode in each, keep the closer.
        s = np.array([1.0, SQRT3])
        a = _round_half_away(x / s) * s
        b = (_round_half_away(x / s - 0.5) + 0.5) * s
        da = np.sum((x - a) ** 2, -1)
        db = np.sum((x - b) ** 2, -1)
        return np.where((da <= db)[:, None], a, b)
    raise ValueError(kind)


def lattice_basis(kind):
    """A generator matrix (rows = basis vectors) at the scale of nearest_point."""
    if kind == "z":
        return np.eye(1)
    if kind == "d4":
        return np.array([[2, 0, 0, 0], [-1, 1, 0, 0], [0, -1, 1, 0], [0, 0, -1, 1]], float)
    if kind == "a2":
        return np.array([[1.0, 0.0], [0.5, SQRT3 / 2]])
    if kind == "e8":
        g = np.zeros((8, 8))
        g[0, 0] = 2
        for i in range(1, 7):
            g[i, i - 1], g[i, i] = -1, 1
        g[7] = 0.5
        return g
    raise ValueError(kind)


_G_CACHE = {}


def second_moment(kind, samples=400000, seed=12345):
    """Normalised second moment G = E||e||^2 / (n V^(2/n)) of the lattice's Voronoi cell, by
    Monte Carlo: points uniform over a fundamental parallelepiped, reduced to the Voronoi cell
    by subtracting their nearest lattice point."""
    if kind in _G_CACHE:
        return _G_CACHE[kind]
    n = LATTICE_DIM[kind]
    rng = np.random.default_rng(seed)
    x = rng.random((samples, n)) @ lattice_basis(kind)
    e = x - nearest_point(kind, x)
    g = float(np.mean(np.sum(e * e, -1)) / (n * LATTICE_VOLUME[kind] ** (2.0 / n)))
    _G_CACHE[kind] = g
    return g


def voronoi_uniform(kind, shape, rng):
    """Points uniform over the Voronoi cell at the origin (for subtractive dither)."""
    n = LATTICE_DIM[kind]
    x = rng.random((int(np.prod(shape)), n)) @ lattice_basis(kind)
    return (x - nearest_point(kind, x)).reshape(*shape, n)


def zigzag(v):
    v = np.asarray(v, np.int64)
    return np.where(v >= 0, 2 * v, -2 * v - 1)


def rice_bits(symbols, kmax=16):
    """Rice code of non-negative integers: length (z >> k) + 1 + k; returns (best k, total
    bits) over k = 0..kmax."""
    z = np.asarray(symbols, np.int64).ravel()
    best = None
    for k in range(kmax + 1):
        tot = int(np.sum(z >> k)) + z.size * (1 + k)
        if best is None or tot < best[1]:
            best = (k, tot)
    return best


def rice_encode(symbols, k):
    """Bit list of the Rice code (unary quotient of 1s, a 0, then k remainder bits MSB first)."""
    out = []
    for z in np.asarray(symbols, np.int64).ravel():
        out.extend([1] * int(z >> k))
        out.append(0)
        out.extend((int(z) >> (k - 1 - i)) & 1 for i in range(k))
    return out


def rice_decode(bits, k, count):
    out, i = [], 0
    for _ in range(count):
        q = 0
        while bits[i] == 1:
            q, i = q + 1, i + 1
        i += 1
        r = 0
        for _ in range(k):
            r, i = (r << 1) | bits[i], i + 1
        out.append((q << k) | r)
    return np.array(out, np.int64)


def lattice_symbols(kind, pts):
    """Integer symbols of lattice points ([N, n], at the scale of nearest_point), with the
    lattice's deterministic redundancy stripped so that Rice coding does not pay for it:
      z  : each coordinate.
      d4 : x1..x3, and t = (x4 - p) >> 1 with p = parity forced by the even sum.
      e8 : c = coset bit (1 for the D8 + 1/2 coset), y = x - c/2 in D8; y1..y7 and
           2*zz(t) + c with t = (y8 - p) >> 1 (the coset bit rides in the last symbol's LSB).
      a2 : point = (a + c/2, (b + c/2) sqrt3): zz(a) and 2*zz(b) + c.
    Returns non-negative symbols (zigzagged) [N, n] and a decoder inverse for checks."""
    if kind == "z":
        return zigzag(np.rint(pts).astype(np.int64))
    if kind == "d4":
        x = np.rint(pts).astype(np.int64)
        p = np.sum(x[:, :3], -1) & 1
        t = (x[:, 3] - p) >> 1
        return np.concatenate([zigzag(x[:, :3]), zigzag(t)[:, None]], 1)
    if kind == "e8":
        c = (np.abs(np.rint(2 * pts[:, 0]).astype(np.int64)) & 1)
        y = np.rint(pts - 0.5 * c[:, None]).astype(np.int64)
        p = np.sum(y[:, :7], -1) & 1
        t = (y[:, 7] - p) >> 1
        return np.concatenate([zigzag(y[:, :7]), (2 * zigzag(t) + c)[:, None]], 1)
    if kind == "a2":
        c = np.abs(np.rint(2 * pts[:, 0]).astype(np.int64)) & 1
        a = np.rint(pts[:, 0] - 0.5 * c).astype(np.int64)
        b = np.rint(pts[:, 1] / SQRT3 - 0.5 * c).astype(np.int64)
        return np.stack([zigzag(a), 2 * zigzag(b) + c], 1)
    raise ValueError(kind)


def unzigzag(z):
    z = np.asarray(z, np.int64)
    return np.where(z & 1, -(z + 1) // 2, z // 2)


def lattice_points_from_symbols(kind, s):
    """Inverse of lattice_symbols (the decoder side of the Rice stream)."""
    if kind == "z":
        return unzigzag(s).astype(float)
    if kind == "d4":
        x = unzigzag(s[:, :3])
        p = np.sum(x, -1) & 1
        x4 = 2 * unzigzag(s[:, 3]) + p
        return np.concatenate([x, x4[:, None]], 1).astype(float)
    if kind == "e8":
        y = unzigzag(s[:, :7])
        c = s[:, 7] & 1
        t = unzigzag(s[:, 7] >> 1)
        y8 = 2 * t + (np.sum(y, -1) & 1)
        return np.concatenate([y, y8[:, None]], 1) + 0.5 * c[:, None]
    if kind == "a2":
        c = s[:, 1] & 1
        a = unzigzag(s[:, 0])
        b = unzigzag(s[:, 1] >> 1)
        return np.stack([a + 0.5 * c, (b + 0.5 * c) * SQRT3], 1)
    raise ValueError(kind)


def alpha_for_snr(kind, snr_db):
    """u has unit variance per coordinate; the quantization noise per coordinate of the
    lattice scaled by 1/alpha is G V^(2/n) / alpha^2 (G measured by second_moment), so
    SNR = alpha^2 / (G V^(2/n)) and alpha = sqrt(SNR G V^(2/n))."""
    n = LATTICE_DIM[kind]
    snr = 10.0 ** (snr_db / 10.0)
    return math.sqrt(snr * second_moment(kind) * LATTICE_VOLUME[kind] ** (2.0 / n))


class Lattice:
    """HyperQuant: rotate, u = sqrt(d) x_r / ||x_r||, scale by alpha, nearest lattice point of
    each n-dim piece, divide by alpha, times ||x_r|| / sqrt(d), unrotate. Optional subtractive
    dither (uniform over the Voronoi cell, seeded). Storage: the Rice-coded symbols (best k
    over the tensor) + an f32 norm per row."""

    def __init__(self, d, kind, snr_db=None, alpha=None, rotation="hadamard", seed=0,
                 dither=False):
        self.d, self.kind, self.n = d, kind, LATTICE_DIM[kind]
        if d % self.n:
            raise ValueError(f"lattice {kind} needs n | D, got D={d}")
        self.alpha = alpha if alpha is not None else alpha_for_snr(kind, snr_db)
        self.R = rotation_matrix(d, rotation, seed)
        self.dither, self.seed = dither, seed

    def _dither(self, rows):
        rng = np.random.default_rng(self.seed + 1)
        return voronoi_uniform(self.kind, (rows * self.d // self.n,), rng)

    def encode(self, x):
        x = np.asarray(x, np.float64)
        xr = x @ self.R.T
        nrm = np.linalg.norm(xr, axis=-1).astype(np.float32).astype(np.float64)
        u = math.sqrt(self.d) * xr / np.where(nrm > 0, nrm, 1.0)[:, None]
        v = (self.alpha * u).reshape(-1, self.n)
        if self.dither:
            v = v + self._dither(x.shape[0])
        pts = nearest_point(self.kind, v)
        return pts, nrm

    def decode(self, pts, nrm):
        if self.dither:
            pts = pts - self._dither(nrm.shape[0])
        u = pts.reshape(-1, self.d) / self.alpha
        return (u * (nrm / math.sqrt(self.d))[:, None]) @ self.R

    def roundtrip(self, x):
        return self.decode(*self.encode(x))

    def rice(self, x):
        """(k, bits/scalar of the symbols, bits/scalar including the f32 norms)."""
        pts, _ = self.encode(np.asarray(x, np.float64).reshape(-1, self.d))
        k, tot = rice_bits(lattice_symbols(self.kind, pts))
        scalars = pts.size
        return k, tot / scalars, (tot + 32 * (scalars // self.d)) / scalars


# --------------------------------------------------------------------------------------------
# The `int` scheme (bit-exact with test/unit/Numerics/Reference.cpp's quantizeInt)
# --------------------------------------------------------------------------------------------


class IntQuant:
    """Symmetric per-group uniform: scale = max|x| / (2^(b-1) - 1) in f32, q = round half away
    from zero, clamped; storage ceil(D*bits/8) bytes + an f32 scale per group."""

    def __init__(self, d, bits, group=None):
        self.d, self.bits, self.group = d, bits, group or d

    def roundtrip(self, x):
        x = np.asarray(x, np.float32)
        g = x.reshape(*x.shape[:-1], self.d // self.group, self.group)
        qmax = np.float32((1 << self.bits) // 2 - 1)
        scale = (np.max(np.abs(g), axis=-1, keepdims=True) / qmax).astype(np.float32)
        inv = np.where(scale > 0, np.float32(1.0) / np.where(scale > 0, scale, 1), 0).astype(np.float32)
        q = np.clip(_round_half_away((g * inv).astype(np.float32)), -qmax, qmax)
        return (q * scale).astype(np.float32).reshape(x.shape)

    @property
    def bits_per_scalar(self):
        return (8 * ((self.d * self.bits + 7) // 8) + 32 * (self.d // self.group)) / self.d
