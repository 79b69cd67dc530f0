//===- TransformCodecs.cpp - Codecs that quantize a rotated row -----------===//
//
// tq_mse, block_gtq and lattice share a shape (ALGORITHMS.md 4a-4c): rotate
// the row by an orthogonal matrix M fixed at compile time, normalise, quantize
// each coordinate (or each lattice piece) of the rotated row, keep a norm.
// Decoding an element of the rotated row needs only its own code and the
// row's norm, so attention can read packed K/V element by element in the
// rotated domain (QuantCodec::hasTransform).
//
//  tq_mse     one segment: all D coordinates at `bits`, Lloyd-Max codebook of
//             N(0, 1/D).
//  block_gtq  one segment per bit width (widest first), holding the RoPE
//             blocks i given that width: dims i of those blocks in ascending i,
//             then their dims i + D/2. Each segment has its own rotation (seed
//             + segment index), its own codebook of N(0, 1/size) and norm.
//             M is the block-diagonal of those rotations times the permutation.
//  lattice    one rotation over D; u = sqrt(D) y / ||y||, alpha u split into
//             pieces of the lattice's dimension, nearest lattice point
//             (Conway & Sloane), one i8 per coordinate.
//
// Stored norms:
//  - scalar schemes store s = ||y_seg|| / ||c_seg|| per segment, the "norm
//    correction" of the decoder folded into the norm at pack time, so decoding
//    element p is c[code_p] * s (no pass over the row): x_hat is exactly
//    ALGORITHMS.md 4a's n * c / ||c|| rotated back. A zero segment stores 0.
//  - lattice stores ||y||; element p decodes to point_p * ||y|| / (alpha
//    sqrt(D)).
//
// Lattice codes: Z and D4 store the integer coordinates, E8 twice its
// coordinates (half-integers), A2 the two integer coefficients (i, j) of the
// point i (1, 0) + j (1/2, sqrt(3)/2). So that every code fits an i8, alpha u
// is clamped before the nearest point is taken: to +-62 (E8), +-126 (Z, D4),
// +-70 (A2); at the alphas of any useful rate (alpha ~ 3 gives 21 dB) that is
// beyond 20 standard deviations.
//
// Dither (lattice `dither`): a counter-based uniform draw over the Voronoi cell
// is added before the nearest point and subtracted when decoding, so decoding
// an element regenerates its piece's dither (a few dozen integer ops and one
// nearest-point search per element).
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Support/Codebooks.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/Hashing.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>

using namespace mlir;
using namespace mlir::tessera;

namespace {

SmallVector<Value> concat(ValueRange prefix, ArrayRef<Value> tail) {
  SmallVector<Value> out(prefix.begin(), prefix.end());
  out.append(tail.begin(), tail.end());
  return out;
}

RotationKind rotationKind(Rotation r) {
  switch (r) {
  case Rotation::None:
    return RotationKind::None;
  case Rotation::Hadamard:
    return RotationKind::Hadamard;
  case Rotation::Haar:
    return RotationKind::Haar;
  }
  return RotationKind::None;
}

/// The row-wise part shared by the three schemes: the rotation, the constant
/// tables as module globals, the pack/unpack skeleton.
class TransformCodec : public QuantCodec {
public:
  explicit TransformCodec(QTensorType type)
      : QuantCodec(type), dim(type.getShape().back()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << type.getScheme() << dim;
    stem = "__tessera_q" +
           llvm::utohexstr(static_cast<uint64_t>(llvm::hash_value(text)));
  }

  bool hasTransform() const override { return true; }
  bool isElementwise() const override { return true; }

  void emitTransform(Emitter &e, Value src, ValueRange srcPrefix, Value dst,
                     ValueRange dstPrefix, bool inverse) const override {
    ImplicitLocOpBuilder &b = e.builder();
    Value m = global(e, "rot", {dim, dim}, matrix);
    Type dstElt = cast<MemRefType>(dst.getType()).getElementType();
    e.forLoop(e.idx(0), e.idx(dim), 1, [&](Value p) {
      SmallVector<Value> acc = e.forLoop(
          e.idx(0), e.idx(dim), 1, ValueRange{e.f32(0)},
          [&](Value d, ValueRange it) -> SmallVector<Value> {
            Value w = memref::LoadOp::create(
                b, m, inverse ? ValueRange{d, p} : ValueRange{p, d});
            Value x =
                e.toF32(memref::LoadOp::create(b, src, concat(srcPrefix, {d})));
            return {e.add(it[0], e.mul(w, x))};
          });
      memref::StoreOp::create(b, e.fromF32(acc[0], dstElt), dst,
                              concat(dstPrefix, {p}));
    });
  }

  void emitUnpackRow(Emitter &e, ValueRange parts, ValueRange lead, Value dst,
                     ValueRange dstPrefix) const override {
    ImplicitLocOpBuilder &b = e.builder();
    Value rotated =
        memref::AllocaOp::create(b, MemRefType::get({dim}, b.getF32Type()));
    e.forLoop(e.idx(0), e.idx(dim), 1, [&](Value p) {
      memref::StoreOp::create(b, emitUnpackElement(e, parts, lead, p), rotated,
                              ValueRange{p});
    });
    emitTransform(e, rotated, {}, dst, dstPrefix, /*inverse=*/true);
  }

  void emitPackRow(Emitter &e, Value src, ValueRange srcPrefix,
                   ValueRange parts, ValueRange lead) const override {
    ImplicitLocOpBuilder &b = e.builder();
    Value rotated =
        memref::AllocaOp::create(b, MemRefType::get({dim}, b.getF32Type()));
    emitTransform(e, src, srcPrefix, rotated, {}, /*inverse=*/false);
    packRotated(e, rotated, parts, lead);
  }

protected:
  /// Quantizes the rotated f32 row `y` [dim] into the components.
  virtual void packRotated(Emitter &e, Value y, ValueRange parts,
                           ValueRange lead) const = 0;

  /// A constant global of this codec (created once in the nearest symbol
  /// table: the module, or the gpu.module of a kernel) and its
  /// memref.get_global.
  template <typename T>
  Value global(Emitter &e, StringRef what, ArrayRef<int64_t> shape,
               ArrayRef<T> data) const {
    ImplicitLocOpBuilder &b = e.builder();
    Type elt;
    if constexpr (std::is_same_v<T, int32_t>)
      elt = b.getI32Type();
    else
      elt = b.getF32Type();
    auto type = MemRefType::get(shape, elt);
    std::string name = (stem + "_" + what).str();
    Operation *table = SymbolTable::getNearestSymbolTable(
        b.getInsertionBlock()->getParentOp());
    if (!SymbolTable::lookupSymbolIn(table, name)) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&table->getRegion(0).front());
      auto init =
          DenseElementsAttr::get(RankedTensorType::get(shape, elt), data);
      memref::GlobalOp::create(b, name, b.getStringAttr("private"), type, init,
                               /*constant=*/true, /*alignment=*/IntegerAttr());
    }
    return memref::GetGlobalOp::create(b, type, name);
  }
  Value global(Emitter &e, StringRef what, ArrayRef<int64_t> shape,
               const std::vector<double> &data) const {
    SmallVector<float> f(data.begin(), data.end());
    return global<float>(e, what, shape, f);
  }

  /// sum_p y[p]^2 over [start, start + size).
  static Value sumSquares(Emitter &e, Value y, int64_t start, int64_t size) {
    ImplicitLocOpBuilder &b = e.builder();
    return e
        .forLoop(e.idx(start), e.idx(start + size), 1, ValueRange{e.f32(0)},
                 [&](Value p, ValueRange it) -> SmallVector<Value> {
                   Value v = memref::LoadOp::create(b, y, ValueRange{p});
                   return {e.add(it[0], e.mul(v, v))};
                 })
        .front();
  }

  int64_t dim;
  std::vector<double> matrix; ///< M, row-major [dim, dim]
  std::string stem;           ///< prefix of this codec's global names
};

//===----------------------------------------------------------------------===//
// tq_mse and block_gtq: Lloyd-Max scalar codebooks per segment
//===----------------------------------------------------------------------===//

class ScalarCodec final : public TransformCodec {
public:
  explicit ScalarCodec(QTensorType type) : TransformCodec(type) {
    QuantAttr q = type.getScheme();
    RotationKind rot = rotationKind(q.getRotation());
    uint64_t seed = static_cast<uint64_t>(q.getSeed());
    normType = q.getNormType();
    perSegmentNorm = q.getScheme() == QuantScheme::BlockGtq;
    // Segments and the original dim behind each rotated position.
    SmallVector<int64_t> order;
    if (!perSegmentNorm) {
      segments.push_back({0, dim, q.getUniformBits(), 0, 0});
      for (int64_t d = 0; d < dim; ++d)
        order.push_back(d);
    } else {
      std::map<int64_t, SmallVector<int64_t>, std::greater<int64_t>> byWidth;
      ArrayRef<int64_t> bits = q.getBits();
      for (int64_t i = 0, n = bits.size(); i < n; ++i)
        byWidth[bits[i]].push_back(i);
      for (auto &[w, blocks] : byWidth) {
        Segment s{static_cast<int64_t>(order.size()),
                  2 * static_cast<int64_t>(blocks.size()), w, 0, 0};
        segments.push_back(s);
        for (int64_t i : blocks)
          order.push_back(i);
        for (int64_t i : blocks)
          order.push_back(i + dim / 2);
      }
    }
    // Byte ranges (widest first, as QTensorType lays out the codes) and the
    // codebook table: per segment 2^bits centroids then 2^bits - 1 thresholds
    // (and one pad), scaled from N(0, 1) to N(0, 1/size).
    int64_t byte = 0;
    matrix.assign(dim * dim, 0.0);
    for (size_t index = 0; index < segments.size(); ++index) {
      Segment &s = segments[index];
      s.byteOffset = byte;
      byte += (s.size * s.bits + 7) / 8;
      s.table = static_cast<int64_t>(book.size());
      const LloydMaxCodebook &cb = lloydMaxGaussian(static_cast<int>(s.bits));
      double scale = 1.0 / std::sqrt(static_cast<double>(s.size));
      for (double c : cb.centroids)
        book.push_back(static_cast<float>(c * scale));
      for (double t : cb.thresholds)
        book.push_back(static_cast<float>(t * scale));
      book.push_back(0.0f);
      std::vector<double> r = orthogonalMatrix(rot, seed + index, s.size);
      for (int64_t row = 0; row < s.size; ++row)
        for (int64_t col = 0; col < s.size; ++col)
          matrix[(s.start + row) * dim + order[s.start + col]] =
              r[row * s.size + col];
      for (int64_t p = 0; p < s.size; ++p) {
        slots.push_back(static_cast<int32_t>(s.bits));
        slots.push_back(static_cast<int32_t>(s.byteOffset * 8 + p * s.bits));
        slots.push_back(static_cast<int32_t>(s.table));
        slots.push_back(static_cast<int32_t>(index));
      }
    }
    numBytes = byte;
  }

  Value emitUnpackElement(Emitter &e, ValueRange parts, ValueRange lead,
                          Value p) const override {
    ImplicitLocOpBuilder &b = e.builder();
    if (segments.size() == 1) {
      // One width (tq_mse, or block_gtq with equal bits): position p's code
      // is at bit p * bits, its centroid in the one codebook.
      const Segment &s = segments.front();
      Value code = emitReadBits(e, parts[0], lead, e.mul(p, e.idx(s.bits)),
                                e.i32(s.bits), numBytes);
      Value c = memref::LoadOp::create(
          b,
          global<float>(e, "book", {static_cast<int64_t>(book.size())}, book),
          ValueRange{arith::IndexCastOp::create(b, b.getIndexType(), code)
                         .getResult()});
      SmallVector<Value> normIndex(lead.begin(), lead.end());
      if (perSegmentNorm)
        normIndex.push_back(e.idx(0));
      return e.mul(c, e.toF32(memref::LoadOp::create(b, parts[1], normIndex)));
    }
    Value slotTable = global<int32_t>(e, "slots", {dim, 4}, slots);
    Value bookTable =
        global<float>(e, "book", {static_cast<int64_t>(book.size())}, book);
    auto slot = [&](int64_t field) {
      return memref::LoadOp::create(b, slotTable, ValueRange{p, e.idx(field)})
          .getResult();
    };
    auto toIndex = [&](Value v) {
      return arith::IndexCastOp::create(b, b.getIndexType(), v).getResult();
    };
    Value code =
        emitReadBits(e, parts[0], lead, toIndex(slot(1)), slot(0), numBytes);
    Value c = memref::LoadOp::create(b, bookTable,
                                     ValueRange{toIndex(e.add(slot(2), code))});
    SmallVector<Value> normIndex(lead.begin(), lead.end());
    if (perSegmentNorm)
      normIndex.push_back(toIndex(slot(3)));
    Value norm = e.toF32(memref::LoadOp::create(b, parts[1], normIndex));
    return e.mul(c, norm);
  }

private:
  struct Segment {
    int64_t start, size, bits, byteOffset, table;
  };

  void packRotated(Emitter &e, Value y, ValueRange parts,
                   ValueRange lead) const override {
    ImplicitLocOpBuilder &b = e.builder();
    Value codes = parts[0], norms = parts[1];
    Value bookTable =
        global<float>(e, "book", {static_cast<int64_t>(book.size())}, book);
    emitZeroBytes(e, codes, lead, numBytes);
    for (size_t index = 0; index < segments.size(); ++index) {
      const Segment &s = segments[index];
      Value n = e.sqrtF32(sumSquares(e, y, s.start, s.size));
      Value positive = e.cmpf(arith::CmpFPredicate::OGT, n, e.f32(0));
      Value inv =
          e.select(positive, arith::DivFOp::create(b, e.f32(1), n), e.f32(0));
      int64_t levels = int64_t{1} << s.bits;
      // Codes by binary search over the thresholds (ascending), and the sum
      // of the squared centroids for the norm correction.
      Value c2 =
          e.forLoop(
               e.idx(0), e.idx(s.size), 1, ValueRange{e.f32(0)},
               [&](Value i, ValueRange it) -> SmallVector<Value> {
                 Value u =
                     e.mul(memref::LoadOp::create(
                               b, y, ValueRange{e.add(i, e.idx(s.start))}),
                           inv);
                 Value code = e.idx(0);
                 for (int64_t level = s.bits - 1; level >= 0; --level) {
                   Value cand = e.add(code, e.idx(int64_t{1} << level));
                   Value t = memref::LoadOp::create(
                       b, bookTable,
                       ValueRange{e.add(cand, e.idx(s.table + levels - 1))});
                   code = e.select(e.cmpf(arith::CmpFPredicate::OGT, u, t),
                                   cand, code);
                 }
                 Value c = memref::LoadOp::create(
                     b, bookTable, ValueRange{e.add(code, e.idx(s.table))});
                 Value bitPos =
                     e.add(e.idx(s.byteOffset * 8), e.mul(i, e.idx(s.bits)));
                 emitWriteBits(
                     e, codes, lead, bitPos,
                     arith::IndexCastOp::create(b, b.getI32Type(), code),
                     s.bits);
                 return {e.add(it[0], e.mul(c, c))};
               })
              .front();
      Value cNorm = e.sqrtF32(c2);
      Value scale = e.select(e.cmpf(arith::CmpFPredicate::OGT, cNorm, e.f32(0)),
                             arith::DivFOp::create(b, n, cNorm), e.f32(0));
      SmallVector<Value> normIndex(lead.begin(), lead.end());
      if (perSegmentNorm)
        normIndex.push_back(e.idx(static_cast<int64_t>(index)));
      memref::StoreOp::create(b, e.fromF32(scale, normType), norms, normIndex);
    }
  }

  SmallVector<Segment> segments;
  /// Per rotated position: bits, absolute bit position, codebook base,
  /// segment.
  std::vector<int32_t> slots;
  std::vector<float> book;
  int64_t numBytes = 0;
  Type normType;
  bool perSegmentNorm = false;
};

//===----------------------------------------------------------------------===//
// lattice: nearest points of E8, D4, A2, Z
//===----------------------------------------------------------------------===//

class LatticeCodec final : public TransformCodec {
public:
  explicit LatticeCodec(QTensorType type) : TransformCodec(type) {
    QuantAttr q = type.getScheme();
    matrix = orthogonalMatrix(rotationKind(q.getRotation()),
                              static_cast<uint64_t>(q.getSeed()), dim);
    kind = q.getLattice();
    piece = q.getLatticeDim();
    alpha = q.getAlpha().convertToDouble();
    dither = q.getDither();
    seed = static_cast<uint64_t>(q.getSeed());
  }

  Value emitUnpackElement(Emitter &e, ValueRange parts, ValueRange lead,
                          Value p) const override {
    ImplicitLocOpBuilder &b = e.builder();
    Type f32 = b.getF32Type();
    auto codeAt = [&](Value d) {
      return arith::SIToFPOp::create(
                 b, f32, memref::LoadOp::create(b, parts[0], concat(lead, {d})))
          .getResult();
    };
    Value coord;
    switch (kind) {
    case LatticeKind::Z:
    case LatticeKind::D4:
      coord = codeAt(p);
      break;
    case LatticeKind::E8:
      coord = e.mul(codeAt(p), e.f32(0.5));
      break;
    case LatticeKind::A2: {
      Value first = e.mul(e.divui(p, e.idx(2)), e.idx(2));
      Value i = codeAt(first), j = codeAt(e.add(first, e.idx(1)));
      Value odd = e.cmpi(arith::CmpIPredicate::ne, p, first);
      coord = e.select(odd, e.mul(j, e.f32(std::sqrt(3.0) / 2)),
                       e.add(i, e.mul(j, e.f32(0.5))));
      break;
    }
    }
    if (dither) {
      // Subtract the piece's dither (regenerated from the counters).
      Value first = e.mul(e.divui(p, e.idx(piece)), e.idx(piece));
      SmallVector<Value> d = emitDither(e, rowCounter(e, parts, lead), first);
      Value at = e.sub(p, first), mine = d[0];
      for (int64_t i = 1; i < piece; ++i)
        mine = e.select(e.cmpi(arith::CmpIPredicate::eq, at, e.idx(i)), d[i],
                        mine);
      coord = e.sub(coord, mine);
    }
    Value norm = memref::LoadOp::create(b, parts[1], lead);
    return e.mul(coord,
                 e.mul(norm, e.f32(1.0 / (alpha * std::sqrt(double(dim))))));
  }

private:
  void packRotated(Emitter &e, Value y, ValueRange parts,
                   ValueRange lead) const override {
    ImplicitLocOpBuilder &b = e.builder();
    Value codes = parts[0], norms = parts[1];
    Value n = e.sqrtF32(sumSquares(e, y, 0, dim));
    Value positive = e.cmpf(arith::CmpFPredicate::OGT, n, e.f32(0));
    Value scale = e.select(
        positive,
        arith::DivFOp::create(b, e.f32(alpha * std::sqrt(double(dim))), n),
        e.f32(0));
    memref::StoreOp::create(b, n, norms, lead);
    double limit = kind == LatticeKind::E8   ? 62.0
                   : kind == LatticeKind::A2 ? 70.0
                                             : 126.0;
    Value row = dither ? rowCounter(e, parts, lead) : Value();
    e.forLoop(e.idx(0), e.idx(dim), piece, [&](Value first) {
      SmallVector<Value> v;
      for (int64_t i = 0; i < piece; ++i) {
        Value x = e.mul(
            memref::LoadOp::create(b, y, ValueRange{e.add(first, e.idx(i))}),
            scale);
        v.push_back(arith::MinimumFOp::create(b, e.maxf(x, e.f32(-limit)),
                                              e.f32(limit)));
      }
      if (dither) {
        SmallVector<Value> d = emitDither(e, row, first);
        for (int64_t i = 0; i < piece; ++i)
          v[i] = e.add(v[i], d[i]);
      }
      SmallVector<Value> out = codesOf(e, nearestPoint(e, v));
      for (int64_t i = 0; i < piece; ++i)
        memref::StoreOp::create(
            b, arith::TruncIOp::create(b, b.getI8Type(), out[i]), codes,
            concat(lead, {e.add(first, e.idx(i))}));
    });
  }

  /// The row's position in the tensor (its leading indices, row-major over
  /// the norms component, whose shape is the leading dims) as an i64.
  static Value rowCounter(Emitter &e, ValueRange parts, ValueRange lead) {
    ImplicitLocOpBuilder &b = e.builder();
    auto type = cast<MemRefType>(parts[1].getType());
    Value linear = e.idx(0);
    for (auto [d, index] : llvm::enumerate(lead)) {
      Value size = type.isDynamicDim(d)
                       ? Value(memref::DimOp::create(b, parts[1], d))
                       : e.idx(type.getDimSize(d));
      linear = e.add(e.mul(linear, size), index);
    }
    return arith::IndexCastOp::create(b, b.getI64Type(), linear);
  }

  static Value i64Const(Emitter &e, uint64_t v) {
    return arith::ConstantOp::create(
        e.builder(), e.builder().getI64IntegerAttr(static_cast<int64_t>(v)));
  }

  /// A uniform f32 in [0, 1) from the 24 top bits of splitmix64(key) (the
  /// finaliser of tessera/Support/RandomSigns.h, here in i64 arith).
  static Value uniform(Emitter &e, Value key) {
    ImplicitLocOpBuilder &b = e.builder();
    auto mix = [&](Value z, uint64_t shift) {
      return arith::XOrIOp::create(
          b, z, arith::ShRUIOp::create(b, z, i64Const(e, shift)));
    };
    Value z = mix(key, 30);
    z = arith::MulIOp::create(b, z, i64Const(e, 0xBF58476D1CE4E5B9ULL));
    z = mix(z, 27);
    z = arith::MulIOp::create(b, z, i64Const(e, 0x94D049BB133111EBULL));
    z = mix(z, 31);
    Value top = arith::ShRUIOp::create(b, z, i64Const(e, 40));
    return e.mul(arith::UIToFPOp::create(b, b.getF32Type(), top),
                 e.f32(1.0 / 16777216.0));
  }

  /// The dither of the piece starting at coordinate `first` of row `row`
  /// (i64), uniform over the Voronoi cell: z uniform over a fundamental
  /// region of the lattice, minus its nearest lattice point. The region is
  /// [0, 1) (Z), [0, 2)^n (D4, E8: it tiles 2Z^n, a sublattice) or the basis
  /// parallelogram (A2). Coordinate i of the piece draws from the key
  /// seed * 0x9E3779B97F4A7C15 + (row * D + first + i + 1) *
  /// 0xD1B54A32D192ED03.
  SmallVector<Value> emitDither(Emitter &e, Value row, Value first) const {
    ImplicitLocOpBuilder &b = e.builder();
    Value base = arith::AddIOp::create(
        b,
        arith::MulIOp::create(b, row, i64Const(e, static_cast<uint64_t>(dim))),
        arith::IndexCastOp::create(b, b.getI64Type(), first));
    SmallVector<Value> u;
    for (int64_t i = 0; i < piece; ++i) {
      Value counter = arith::AddIOp::create(
          b, base, i64Const(e, static_cast<uint64_t>(i + 1)));
      Value key = arith::AddIOp::create(
          b, i64Const(e, seed * 0x9E3779B97F4A7C15ULL),
          arith::MulIOp::create(b, counter,
                                i64Const(e, 0xD1B54A32D192ED03ULL)));
      u.push_back(uniform(e, key));
    }
    SmallVector<Value> z;
    switch (kind) {
    case LatticeKind::Z:
      z = u;
      break;
    case LatticeKind::D4:
    case LatticeKind::E8:
      for (Value x : u)
        z.push_back(e.mul(x, e.f32(2)));
      break;
    case LatticeKind::A2:
      z = {e.add(u[0], e.mul(u[1], e.f32(0.5))),
           e.mul(u[1], e.f32(std::sqrt(3.0) / 2))};
      break;
    }
    SmallVector<Value> pt = nearestPoint(e, z), d;
    for (int64_t i = 0; i < piece; ++i)
      d.push_back(e.sub(z[i], pt[i]));
    return d;
  }

  /// The lattice point nearest to `v` (its coordinates).
  SmallVector<Value> nearestPoint(Emitter &e, ArrayRef<Value> v) const {
    switch (kind) {
    case LatticeKind::Z:
      return {e.roundF32(v[0])};
    case LatticeKind::D4:
      return nearestD(e, v);
    case LatticeKind::E8: {
      // E8 = D8 u (D8 + 1/2): the closer of the two cosets' nearest points.
      SmallVector<Value> a = nearestD(e, v), shifted;
      for (Value x : v)
        shifted.push_back(e.sub(x, e.f32(0.5)));
      SmallVector<Value> c = nearestD(e, shifted);
      for (Value &x : c)
        x = e.add(x, e.f32(0.5));
      Value useC = e.cmpf(arith::CmpFPredicate::OLT, distance(e, v, c),
                          distance(e, v, a));
      SmallVector<Value> out;
      for (int64_t i = 0; i < 8; ++i)
        out.push_back(e.select(useC, c[i], a[i]));
      return out;
    }
    case LatticeKind::A2: {
      // A2 = L u (L + (1/2, sqrt(3)/2)) with L = Z x sqrt(3) Z.
      double r3 = std::sqrt(3.0);
      SmallVector<Value> a = {
          e.roundF32(v[0]),
          e.mul(e.roundF32(e.mul(v[1], e.f32(1 / r3))), e.f32(r3))};
      SmallVector<Value> c = {
          e.add(e.roundF32(e.sub(v[0], e.f32(0.5))), e.f32(0.5)),
          e.mul(e.add(e.roundF32(e.sub(e.mul(v[1], e.f32(1 / r3)), e.f32(0.5))),
                      e.f32(0.5)),
                e.f32(r3))};
      Value useC = e.cmpf(arith::CmpFPredicate::OLT, distance(e, v, c),
                          distance(e, v, a));
      return {e.select(useC, c[0], a[0]), e.select(useC, c[1], a[1])};
    }
    }
    return {};
  }

  /// The stored i32 codes of lattice point `pt`: Z and D4 the coordinates,
  /// E8 twice them, A2 the coefficients (i, j) of i (1, 0) + j (1/2,
  /// sqrt(3)/2).
  SmallVector<Value> codesOf(Emitter &e, ArrayRef<Value> pt) const {
    ImplicitLocOpBuilder &b = e.builder();
    auto toI32 = [&](Value x) {
      return arith::FPToSIOp::create(b, b.getI32Type(), e.roundF32(x))
          .getResult();
    };
    SmallVector<Value> out;
    switch (kind) {
    case LatticeKind::Z:
    case LatticeKind::D4:
      for (Value x : pt)
        out.push_back(toI32(x));
      break;
    case LatticeKind::E8:
      for (Value x : pt)
        out.push_back(toI32(e.mul(x, e.f32(2))));
      break;
    case LatticeKind::A2: {
      Value j = e.roundF32(e.mul(pt[1], e.f32(2 / std::sqrt(3.0))));
      out.push_back(toI32(e.sub(pt[0], e.mul(j, e.f32(0.5)))));
      out.push_back(toI32(j));
      break;
    }
    }
    return out;
  }

  /// Nearest point of D_n (Conway & Sloane): round every coordinate; if the
  /// sum is odd, round the coordinate with the largest rounding error (the
  /// first of equals) the other way.
  static SmallVector<Value> nearestD(Emitter &e, ArrayRef<Value> v) {
    ImplicitLocOpBuilder &b = e.builder();
    SmallVector<Value> f, err;
    Value sum = e.i32(0), worst = e.f32(-1), at = e.i32(0);
    for (auto [i, x] : llvm::enumerate(v)) {
      Value r = e.roundF32(x);
      f.push_back(r);
      err.push_back(e.sub(x, r));
      sum = e.add(sum, arith::FPToSIOp::create(b, b.getI32Type(), r));
      Value a = e.absF32(err.back());
      Value larger = e.cmpf(arith::CmpFPredicate::OGT, a, worst);
      worst = e.select(larger, a, worst);
      at = e.select(larger, e.i32(static_cast<int64_t>(i)), at);
    }
    Value odd = e.cmpi(arith::CmpIPredicate::ne,
                       arith::AndIOp::create(b, sum, e.i32(1)), e.i32(0));
    for (int64_t i = 0, n = v.size(); i < n; ++i) {
      Value flip = arith::AndIOp::create(
          b, odd, e.cmpi(arith::CmpIPredicate::eq, at, e.i32(i)));
      Value step = e.select(e.cmpf(arith::CmpFPredicate::OGE, err[i], e.f32(0)),
                            e.f32(1), e.f32(-1));
      f[i] = e.select(flip, e.add(f[i], step), f[i]);
    }
    return f;
  }

  static Value distance(Emitter &e, ArrayRef<Value> v, ArrayRef<Value> p) {
    Value d = e.f32(0);
    for (auto [x, y] : llvm::zip(v, p)) {
      Value diff = e.sub(x, y);
      d = e.add(d, e.mul(diff, diff));
    }
    return d;
  }

  LatticeKind kind;
  int64_t piece;
  double alpha;
  bool dither = false;
  uint64_t seed = 0;
};

} // namespace

std::unique_ptr<QuantCodec>
mlir::tessera::makeTransformCodec(QTensorType type) {
  switch (type.getScheme().getScheme()) {
  case QuantScheme::TqMse:
  case QuantScheme::BlockGtq:
    return std::make_unique<ScalarCodec>(type);
  case QuantScheme::Lattice:
    return std::make_unique<LatticeCodec>(type);
  case QuantScheme::Int:
  case QuantScheme::Graded:
    break;
  }
  return nullptr;
}
