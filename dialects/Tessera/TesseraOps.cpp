//===- TesseraOps.cpp - Tessera operations: builders and verifiers --------===//
#include "Tessera/TesseraOps.h"
#include "Tessera/Format.h"
#include "tessera/Support/GPUAttentionRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tessera;

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

namespace {
/// Prints a dimension the way users write it (`?` for dynamic).
struct Dim {
  int64_t v;
};
Diagnostic &operator<<(Diagnostic &diag, Dim d) {
  if (ShapedType::isDynamic(d.v))
    return diag << "?";
  return diag << d.v;
}
/// Prints a shape as `[a, b, c]`.
struct Shape {
  ArrayRef<int64_t> dims;
};
Diagnostic &operator<<(Diagnostic &diag, Shape s) {
  diag << "[";
  llvm::interleave(
      s.dims, [&](int64_t v) { diag << Dim{v}; }, [&] { diag << ", "; });
  return diag << "]";
}
} // namespace

static bool same(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}
static bool sameShape(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  return a.size() == b.size() && llvm::all_of(llvm::zip(a, b), [](auto p) {
           return same(std::get<0>(p), std::get<1>(p));
         });
}
static int64_t ceilDiv(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) ? ShapedType::kDynamic : (a + b - 1) / b;
}

/// Checks that `v` has the given rank; `what` names the operand and `layout`
/// its dims.
static LogicalResult checkRank(Operation *op, ShapedType t, int64_t rank,
                               StringRef what, StringRef layout) {
  if (t.getRank() != rank)
    return op->emitOpError() << what << " must have rank " << rank << " "
                             << layout << ", got rank " << t.getRank();
  return success();
}

/// Checks that a result has the expected shape and element type.
static LogicalResult checkResult(Operation *op, StringRef what,
                                 ShapedType actual, ArrayRef<int64_t> shape,
                                 Type elt) {
  if (!sameShape(actual.getShape(), shape))
    return op->emitOpError() << what << " shape " << Shape{actual.getShape()}
                             << " must be " << Shape{shape};
  if (actual.getElementType() != elt)
    return op->emitOpError() << what << " element type ("
                             << actual.getElementType() << ") must be " << elt;
  return success();
}

/// A K/V operand stored as a qtensor must use a KV scheme.
static LogicalResult checkKVScheme(Operation *op, Type t, StringRef what) {
  if (auto q = dyn_cast<QTensorType>(t); q && !q.getScheme().isKVScheme())
    return op->emitOpError() << what << " cannot be stored in '"
                             << stringifyQuantScheme(q.getScheme().getScheme())
                             << "' quantization (a weight format)";
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

void AttentionOp::build(OpBuilder &b, OperationState &state, Value query,
                        Value key, Value value, Value mask, bool causal,
                        std::optional<int64_t> window,
                        std::optional<float> scale) {
  auto q = cast<RankedTensorType>(query.getType());
  auto v = cast<ShapedType>(value.getType());
  SmallVector<int64_t> oShape(q.getShape());
  oShape.back() = v.getShape().back();
  auto oType = RankedTensorType::get(oShape, q.getElementType());
  auto lseType =
      RankedTensorType::get(q.getShape().drop_back(), b.getF32Type());
  build(b, state, oType, lseType, query, key, value, mask,
        /*block_table=*/Value(), /*kv_lens=*/Value(), /*cu_seqlens_q=*/Value(),
        /*cu_seqlens_k=*/Value(), causal,
        window ? b.getI64IntegerAttr(*window) : IntegerAttr(),
        scale ? b.getF32FloatAttr(*scale) : FloatAttr(), /*block_q=*/64,
        /*block_k=*/64,
        /*topology=*/BlockTopologyAttr(), /*tile=*/TileAttr(),
        /*page_size=*/IntegerAttr(), /*checked=*/false);
}

float AttentionOp::getEffectiveScale() {
  if (std::optional<APFloat> s = getScale())
    return s->convertToFloat();
  return 1.0f /
         std::sqrt(static_cast<float>(getQuery().getType().getShape().back()));
}

LogicalResult AttentionOp::verify() {
  Operation *op = getOperation();
  auto q = getQuery().getType();
  auto k = cast<ShapedType>(getKey().getType());
  auto v = cast<ShapedType>(getValue().getType());
  bool paged = isPaged();
  if (failed(checkRank(op, q, 4, "query", "[B, Hq, Sq, D]")) ||
      failed(
          checkRank(op, k, 4, "key",
                    paged ? "[P, page_size, Hkv, D]" : "[B, Hkv, Skv, D]")) ||
      failed(
          checkRank(op, v, 4, "value",
                    paged ? "[P, page_size, Hkv, Dv]" : "[B, Hkv, Skv, Dv]")) ||
      failed(checkKVScheme(op, k, "key")) ||
      failed(checkKVScheme(op, v, "value")))
    return failure();
  Type elt = q.getElementType();
  if (k.getElementType() != elt)
    return emitOpError() << "key element type (" << k.getElementType()
                         << ") must match query element type (" << elt << ")";
  if (v.getElementType() != elt)
    return emitOpError() << "value element type (" << v.getElementType()
                         << ") must match query element type (" << elt << ")";

  int64_t b = q.getDimSize(0), hq = q.getDimSize(1), sq = q.getDimSize(2),
          d = q.getDimSize(3);
  // The dims of K/V as attention sees them: [B, Hkv, Skv, D] dense; pools
  // [P, page_size, Hkv, D] are read per sequence through the block table, so
  // Skv is each sequence's kv_lens and the mask grid spans the capacity.
  int64_t hkv, skv, kvBatchK, kvBatchV, vHeads, vLen;
  if (paged) {
    std::optional<int64_t> ps = getPageSize();
    if (!ps || *ps <= 0)
      return emitOpError() << "paged K/V need a positive page_size attribute";
    auto table = cast<RankedTensorType>(getBlockTable().getType());
    auto lens = cast<RankedTensorType>(getKvLens().getType());
    if (table.getRank() != 2 || lens.getRank() != 1)
      return emitOpError()
             << "paged K/V take a block table [B, max_pages] and kv_lens [B]; "
                "got "
             << table << " and " << lens;
    if (!same(table.getDimSize(0), b) || !same(lens.getDimSize(0), b))
      return emitOpError() << "block table (" << table << ") and kv_lens ("
                           << lens << ") must have the query batch (" << Dim{b}
                           << ") rows";
    for (auto [t, name] : {std::pair{k, "key"}, std::pair{v, "value"}})
      if (!same(t.getDimSize(1), *ps))
        return emitOpError() << name << " pages hold " << Dim{t.getDimSize(1)}
                             << " tokens; page_size is " << *ps;
    if (!same(k.getDimSize(0), v.getDimSize(0)))
      return emitOpError() << "key and value pools must have as many pages: "
                           << Dim{k.getDimSize(0)} << " vs "
                           << Dim{v.getDimSize(0)};
    if (getTopologyAttr())
      return emitOpError() << "a static topology fixes Skv; paged K/V have "
                              "per-sequence lengths";
    hkv = k.getDimSize(2);
    vHeads = v.getDimSize(2);
    int64_t pages = table.getDimSize(1);
    skv = ShapedType::isDynamic(pages) ? ShapedType::kDynamic : pages * *ps;
    vLen = skv;
    kvBatchK = kvBatchV = b;
  } else {
    if (getPageSize() || getKvLens())
      return emitOpError()
             << "page_size and kv_lens go with a block table (paged K/V)";
    hkv = k.getDimSize(1);
    skv = k.getDimSize(2);
    vHeads = v.getDimSize(1);
    vLen = v.getDimSize(2);
    kvBatchK = k.getDimSize(0);
    kvBatchV = v.getDimSize(0);
  }
  int64_t dv = v.getDimSize(3);
  if (getCuSeqlensK() && !isRagged())
    return emitOpError() << "cu_seqlens_k goes with cu_seqlens_q (varlen)";
  if (isRagged()) {
    auto cq = cast<RankedTensorType>(getCuSeqlensQ().getType());
    auto ck = cast<RankedTensorType>(getCuSeqlensK().getType());
    if (cq.getRank() != 1 || ck.getRank() != 1 ||
        !same(cq.getDimSize(0), ck.getDimSize(0)))
      return emitOpError() << "varlen takes two prefix sums [B + 1] of the "
                              "same size; got "
                           << cq << " and " << ck;
    if (paged || getMask() || getTopologyAttr())
      return emitOpError()
             << "varlen (ragged) attention takes no mask, topology or pages";
    if (!same(b, 1) || !same(kvBatchK, 1) || !same(kvBatchV, 1))
      return emitOpError() << "varlen packs every sequence in one row: Q, K "
                              "and V must have batch 1 ([1, H, total, D]); "
                              "got "
                           << Dim{b} << ", " << Dim{kvBatchK} << ", "
                           << Dim{kvBatchV};
  }
  if (!same(kvBatchK, b) || !same(kvBatchV, b))
    return emitOpError() << "batch sizes must agree: query " << Dim{b}
                         << ", key " << Dim{kvBatchK} << ", value "
                         << Dim{kvBatchV};
  if (!same(vHeads, hkv))
    return emitOpError() << "value head count (" << Dim{vHeads}
                         << ") must equal key head count (" << Dim{hkv} << ")";
  if (!ShapedType::isDynamic(hkv) && hkv == 0)
    return emitOpError() << "key head count must be positive";
  if (!ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hkv) &&
      hq % hkv != 0)
    return emitOpError() << "key head count (" << hkv
                         << ") must divide query head count (" << hq << ")";
  if (!same(k.getDimSize(3), d))
    return emitOpError() << "key head dim (" << Dim{k.getDimSize(3)}
                         << ") must equal query head dim (" << Dim{d} << ")";
  if (!same(vLen, skv))
    return emitOpError() << "value length (" << Dim{vLen}
                         << ") must equal key length (" << Dim{skv} << ")";

  if (failed(checkResult(op, "output", getOutput().getType(), {b, hq, sq, dv},
                         elt)) ||
      failed(checkResult(op, "lse", getLse().getType(), {b, hq, sq},
                         Float32Type::get(getContext()))))
    return failure();

  if (std::optional<int64_t> w = getWindow()) {
    if (*w <= 0)
      return emitOpError() << "window (" << *w << ") must be positive";
    if (!getCausal())
      return emitOpError()
             << "window (" << *w
             << ") needs causal: the window bounds keys below the diagonal";
  }
  if (std::optional<APFloat> s = getScale()) {
    double x = s->convertToDouble();
    if (!(x > 0) || !std::isfinite(x))
      return emitOpError() << "scale (" << format::formatDouble(x)
                           << ") must be positive and finite";
  }
  int64_t bq = getBlockQ(), bk = getBlockK();
  if (bq <= 0 || bk <= 0)
    return emitOpError() << "block sizes (block_q = " << bq
                         << ", block_k = " << bk << ") must be positive";

  if (TileAttr tile = getTileAttr()) {
    int64_t rows = tile.getQuery(), warps = tile.getWarps();
    if (rows <= 0 || bq % rows)
      return emitOpError() << "tile query rows (" << rows
                           << ") must be positive and divide block_q (" << bq
                           << ")";
    if (tile.getKvSplits() < 1)
      return emitOpError() << "tile kv_splits (" << tile.getKvSplits()
                           << ") must be at least 1";
    using ::tessera::gpu_attention::kRowsPerWarp;
    if (warps < 0 || (warps > 0 && rows != kRowsPerWarp * warps))
      return emitOpError() << "tile warps (" << warps
                           << ") must be 0 (CPU) or own " << kRowsPerWarp
                           << " query rows each (query = " << rows << ")";
  }
  if (BlockTopologyAttr topology = getTopologyAttr()) {
    if (getMask())
      return emitOpError()
             << "takes a mask operand or a static topology, not both";
    int64_t qb = ceilDiv(sq, bq), kb = ceilDiv(skv, bk);
    if (!same(topology.getQueryBlocks(), qb) ||
        !same(topology.getKeyBlocks(), kb))
      return emitOpError() << "topology block grid ["
                           << topology.getQueryBlocks() << ", "
                           << topology.getKeyBlocks() << "] must be ["
                           << Dim{qb} << ", " << Dim{kb} << "]";
    int64_t th = topology.getHeads(), tb = topology.getBatch();
    if (th != 1 && !same(th, hkv) && !same(th, hq))
      return emitOpError() << "topology head count (" << th
                           << ") must be 1, the key head count (" << Dim{hkv}
                           << ") or the query head count (" << Dim{hq} << ")";
    if (tb != 1 && !same(tb, b))
      return emitOpError() << "topology batch (" << tb
                           << ") must be 1 or the batch size (" << Dim{b}
                           << ")";
  }
  if (Value mask = getMask()) {
    auto m = cast<RankedTensorType>(mask.getType());
    if (m.getRank() != 3 && m.getRank() != 4)
      return emitOpError() << "mask must have rank 3 [H, QB, KB] or 4 [B, H, "
                              "QB, KB], got rank "
                           << m.getRank();
    ArrayRef<int64_t> ms = m.getShape();
    int64_t mh = ms[ms.size() - 3], mqb = ms[ms.size() - 2], mkb = ms.back();
    if (m.getRank() == 4 && !same(ms[0], 1) && !same(ms[0], b))
      return emitOpError() << "mask batch (" << ms[0]
                           << ") must be 1 or the batch size (" << Dim{b}
                           << ")";
    if (!ShapedType::isDynamic(mh) && mh != 1 && !same(mh, hkv) &&
        !same(mh, hq))
      return emitOpError() << "mask head count (" << mh
                           << ") must be 1, the key head count (" << Dim{hkv}
                           << ") or the query head count (" << Dim{hq} << ")";
    int64_t qb = ceilDiv(sq, bq), kb = ceilDiv(skv, bk);
    bool packed = m.getElementType().isInteger(32);
    int64_t kbw = packed ? ceilDiv(kb, 32) : kb;
    if (!same(mqb, qb) || !same(mkb, kbw)) {
      auto diag = emitOpError()
                  << "mask block grid [" << Dim{mqb} << ", " << Dim{mkb}
                  << "] must be [" << Dim{qb} << ", " << Dim{kbw}
                  << "] for Sq = " << Dim{sq} << ", Skv = " << Dim{skv}
                  << ", block_q = " << bq << ", block_k = " << bk;
      if (packed)
        diag << " (" << Dim{kb} << " key blocks packed 32 per i32 word)";
      return diag;
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// BlockSelectOp
//===----------------------------------------------------------------------===//

LogicalResult BlockSelectOp::verify() {
  Operation *op = getOperation();
  auto q = getQuery().getType();
  auto k = cast<ShapedType>(getKey().getType());
  bool paged = isPaged();
  if (failed(checkRank(op, q, 4, "query", "[B, Hq, Sq, D]")) ||
      failed(
          checkRank(op, k, 4, "key",
                    paged ? "[P, page_size, Hkv, D]" : "[B, Hkv, Skv, D]")) ||
      failed(checkKVScheme(op, k, "key")))
    return failure();
  if (k.getElementType() != q.getElementType())
    return emitOpError() << "key element type (" << k.getElementType()
                         << ") must match query element type ("
                         << q.getElementType() << ")";
  int64_t b = q.getDimSize(0), hq = q.getDimSize(1), sq = q.getDimSize(2),
          d = q.getDimSize(3);
  // K as the selection sees it: [B, Hkv, Skv, D], or a pool read per sequence
  // through the block table, whose key-block grid spans the capacity.
  int64_t hkv, skv;
  if (paged) {
    std::optional<int64_t> ps = getPageSize();
    if (!ps || *ps <= 0)
      return emitOpError() << "a paged key pool needs a positive page_size "
                              "attribute";
    auto table = cast<RankedTensorType>(getBlockTable().getType());
    auto lens = cast<RankedTensorType>(getKvLens().getType());
    if (table.getRank() != 2 || lens.getRank() != 1)
      return emitOpError()
             << "a paged key pool takes a block table [B, max_pages] and "
                "kv_lens [B]; got "
             << table << " and " << lens;
    if (!same(table.getDimSize(0), b) || !same(lens.getDimSize(0), b))
      return emitOpError() << "block table (" << table << ") and kv_lens ("
                           << lens << ") must have the query batch (" << Dim{b}
                           << ") rows";
    if (!same(k.getDimSize(1), *ps))
      return emitOpError() << "key pages hold " << Dim{k.getDimSize(1)}
                           << " tokens; page_size is " << *ps;
    hkv = k.getDimSize(2);
    int64_t pages = table.getDimSize(1);
    skv = ShapedType::isDynamic(pages) ? ShapedType::kDynamic : pages * *ps;
  } else {
    if (getPageSize() || getKvLens())
      return emitOpError() << "page_size and kv_lens go with a block table (a "
                              "paged key pool)";
    hkv = k.getDimSize(1);
    skv = k.getDimSize(2);
    if (!same(k.getDimSize(0), b))
      return emitOpError() << "key batch (" << Dim{k.getDimSize(0)}
                           << ") must equal query batch (" << Dim{b} << ")";
  }
  if (!ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hkv) &&
      (hkv == 0 || hq % hkv != 0))
    return emitOpError() << "key head count (" << hkv
                         << ") must divide query head count (" << hq << ")";
  if (!same(k.getDimSize(3), d))
    return emitOpError() << "key head dim (" << Dim{k.getDimSize(3)}
                         << ") must equal query head dim (" << Dim{d} << ")";

  int64_t bq = getBlockQ(), bk = getBlockK();
  if (bq <= 0 || bk <= 0)
    return emitOpError() << "block sizes (block_q = " << bq
                         << ", block_k = " << bk << ") must be positive";
  std::optional<int64_t> topK = getTopK();
  std::optional<APFloat> topP = getTopP(), layerP = getLayerTopP();
  if (topK.has_value() == topP.has_value())
    return emitOpError() << "needs exactly one of top_k and top_p";
  if (topK && *topK <= 0)
    return emitOpError() << "top_k (" << *topK << ") must be positive";
  auto checkP = [&](StringRef name, const APFloat &p) -> LogicalResult {
    double x = p.convertToDouble();
    if (!(x > 0 && x <= 1))
      return emitOpError() << name << " (" << format::formatDouble(x)
                           << ") must be in (0, 1]";
    return success();
  };
  if ((topP && failed(checkP("top_p", *topP))) ||
      (layerP && failed(checkP("layer_top_p", *layerP))))
    return failure();
  if (layerP && !topP)
    return emitOpError()
           << "layer_top_p needs top_p (dual top-p caps a per-query top-p)";
  if (getSinkBlocks() < 0)
    return emitOpError() << "sink_blocks (" << getSinkBlocks()
                         << ") must be non-negative";
  if (std::optional<APFloat> scale = getScale();
      scale && !(scale->convertToDouble() > 0))
    return emitOpError() << "scale ("
                         << format::formatDouble(scale->convertToDouble())
                         << ") must be positive";

  bool concatPool = getPool() == BlockPool::MaxMinAvg;
  Value wq = getQueryProj(), wk = getKeyProj();
  if (static_cast<bool>(wq) != static_cast<bool>(wk))
    return emitOpError() << "query_proj and key_proj must be given together";
  if (concatPool && !wq)
    return emitOpError()
           << "pool max_min_avg needs the query and key projections (the "
              "pooled key is 3*D wide)";
  if (wq) {
    auto wqT = cast<RankedTensorType>(wq.getType());
    auto wkT = cast<RankedTensorType>(wk.getType());
    if (failed(checkRank(op, wqT, 3, "query projection", "[Hkv, D, P]")) ||
        failed(checkRank(op, wkT, 3, "key projection", "[Hkv, c*D, P]")))
      return failure();
    int64_t c = concatPool ? 3 : 1;
    int64_t kd = ShapedType::isDynamic(d) ? d : c * d;
    if (!sameShape(wqT.getShape().drop_back(), {hkv, d}))
      return emitOpError() << "query projection shape " << Shape{wqT.getShape()}
                           << " must be [" << Dim{hkv} << ", " << Dim{d}
                           << ", P]";
    if (!sameShape(wkT.getShape().drop_back(), {hkv, kd}))
      return emitOpError() << "key projection shape " << Shape{wkT.getShape()}
                           << " must be [" << Dim{hkv} << ", " << Dim{kd}
                           << ", P]";
    if (!same(wqT.getDimSize(2), wkT.getDimSize(2)))
      return emitOpError() << "projection widths must agree: query "
                           << Dim{wqT.getDimSize(2)} << ", key "
                           << Dim{wkT.getDimSize(2)};
  }

  int64_t qb = ceilDiv(sq, bq), kb = ceilDiv(skv, bk);
  Type i32 = IntegerType::get(getContext(), 32);
  if (failed(checkResult(op, "mask", getMask().getType(),
                         {b, hkv, qb, ceilDiv(kb, 32)}, i32)) ||
      failed(
          checkResult(op, "counts", getCounts().getType(), {b, hkv, qb}, i32)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// KVWriteOp
//===----------------------------------------------------------------------===//

LogicalResult KVWriteOp::verify() {
  Operation *op = getOperation();
  auto u = getUpdate().getType();
  auto c = cast<ShapedType>(getCache().getType());
  auto pos = getPositions().getType();
  bool paged = isPaged();
  if (failed(checkRank(op, u, 4, "update", "[B, Hkv, T, D]")) ||
      failed(
          checkRank(op, c, 4, "cache",
                    paged ? "[P, page_size, Hkv, D]" : "[B, Hkv, Smax, D]")) ||
      failed(checkKVScheme(op, c, "cache")))
    return failure();
  if (u.getElementType() != c.getElementType())
    return emitOpError() << "update element type (" << u.getElementType()
                         << ") must match the cache element type ("
                         << c.getElementType() << ")";
  int64_t b = u.getDimSize(0);
  if (pos.getRank() != 1 || !same(pos.getDimSize(0), b))
    return emitOpError() << "positions must be [B] = [" << Dim{b}
                         << "] (one start per sequence); got " << pos;
  int64_t heads = paged ? c.getDimSize(2) : c.getDimSize(1);
  if (!same(u.getDimSize(1), heads))
    return emitOpError() << "update heads (" << Dim{u.getDimSize(1)}
                         << ") must equal the cache's KV heads (" << Dim{heads}
                         << ")";
  if (!same(u.getDimSize(3), c.getDimSize(3)))
    return emitOpError() << "update row length (" << Dim{u.getDimSize(3)}
                         << ") must equal the cache's (" << Dim{c.getDimSize(3)}
                         << ")";
  if (paged) {
    std::optional<int64_t> ps = getPageSize();
    if (!ps || *ps <= 0)
      return emitOpError() << "a paged cache needs a positive page_size "
                              "attribute";
    if (!same(c.getDimSize(1), *ps))
      return emitOpError() << "cache pages hold " << Dim{c.getDimSize(1)}
                           << " tokens; page_size is " << *ps;
    auto table = cast<RankedTensorType>(getBlockTable().getType());
    if (table.getRank() != 2 || !same(table.getDimSize(0), b))
      return emitOpError() << "the block table must be [B, max_pages] with B = "
                           << Dim{b} << "; got " << table;
  } else {
    if (getPageSize())
      return emitOpError() << "page_size goes with a block table (a paged "
                              "cache)";
    if (!same(c.getDimSize(0), b))
      return emitOpError() << "cache batch (" << Dim{c.getDimSize(0)}
                           << ") must equal the update batch (" << Dim{b}
                           << ")";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizeOp / DequantizeOp
//===----------------------------------------------------------------------===//

void QuantizeOp::build(OpBuilder &b, OperationState &state, Value input,
                       QuantAttr scheme) {
  auto t = cast<RankedTensorType>(input.getType());
  build(b, state,
        QTensorType::get(b.getContext(), t.getShape(), t.getElementType(),
                         scheme),
        input);
}

/// A packed value and its logical tensor must have the same shape and element
/// type.
static LogicalResult checkPackedMatches(Operation *op, RankedTensorType plain,
                                        QTensorType packed,
                                        StringRef plainName) {
  if (!sameShape(plain.getShape(), packed.getShape()))
    return op->emitOpError()
           << plainName << " shape " << Shape{plain.getShape()}
           << " must equal the packed shape " << Shape{packed.getShape()};
  if (plain.getElementType() != packed.getElementType())
    return op->emitOpError()
           << plainName << " element type (" << plain.getElementType()
           << ") must equal the packed element type ("
           << packed.getElementType() << ")";
  return success();
}

LogicalResult QuantizeOp::verify() {
  return checkPackedMatches(*this, getInput().getType(), getOutput().getType(),
                            "input");
}

void DequantizeOp::build(OpBuilder &b, OperationState &state, Value input) {
  build(b, state, cast<QTensorType>(input.getType()).getLogicalTensorType(),
        input);
}

LogicalResult DequantizeOp::verify() {
  return checkPackedMatches(*this, getOutput().getType(), getInput().getType(),
                            "output");
}

//===----------------------------------------------------------------------===//
// HadamardOp
//===----------------------------------------------------------------------===//

LogicalResult HadamardOp::verify() {
  auto t = getInput().getType();
  if (t.getRank() < 1)
    return emitOpError() << "input must have rank >= 1 (the transform runs "
                            "along the last dim)";
  int64_t d = t.getShape().back();
  if (ShapedType::isDynamic(d))
    return emitOpError() << "the transformed (last) dim must be static";
  if (!llvm::isPowerOf2_64(d))
    return emitOpError() << "the transformed (last) dim (" << d
                         << ") must be a power of two";
  return success();
}

//===----------------------------------------------------------------------===//
// BitAllocateOp
//===----------------------------------------------------------------------===//

LogicalResult BitAllocateOp::verify() {
  auto e = getEnergies().getType();
  if (e.getRank() < 1)
    return emitOpError()
           << "energies must have rank >= 1 (the last dim lists RoPE blocks)";
  if (!sameShape(getBits().getType().getShape(), e.getShape()))
    return emitOpError() << "bits shape "
                         << Shape{getBits().getType().getShape()}
                         << " must equal energies shape "
                         << Shape{e.getShape()};
  int64_t lo = getMinBits(), hi = getMaxBits();
  double avg = getAvgBits().convertToDouble();
  if (lo < 1 || lo > 8)
    return emitOpError() << "min_bits (" << lo << ") must be in [1, 8]";
  if (hi < 1 || hi > 8)
    return emitOpError() << "max_bits (" << hi << ") must be in [1, 8]";
  if (lo > hi)
    return emitOpError() << "min_bits (" << lo << ") must not exceed max_bits ("
                         << hi << ")";
  if (!(avg >= lo && avg <= hi))
    return emitOpError() << "avg_bits (" << format::formatDouble(avg)
                         << ") must be in [min_bits, max_bits] = [" << lo
                         << ", " << hi << "]";
  return success();
}

//===----------------------------------------------------------------------===//
// GradedMatmulOp
//===----------------------------------------------------------------------===//

int64_t GradedMatmulOp::getBitBudget() {
  int64_t k = getInput().getType().getShape().back();
  return static_cast<int64_t>(
      std::floor(static_cast<double>(k) * getAvgBits().convertToDouble()));
}

LogicalResult GradedMatmulOp::verify() {
  RankedTensorType x = getInput().getType();
  QTensorType w = getWeight().getType();
  if (x.getRank() < 1)
    return emitOpError() << "input must have rank >= 1 [..., K], got rank 0";
  QuantAttr q = w.getScheme();
  if (q.getScheme() != QuantScheme::Graded)
    return emitOpError() << "weight must be quantized with 'graded' (nested "
                            "bit-planes), got '"
                         << stringifyQuantScheme(q.getScheme()) << "'";
  if (failed(checkRank(*this, w, 2, "weight", "[N, K]")))
    return failure();
  int64_t k = x.getShape().back(), kw = w.getShape()[1];
  if (!same(k, kw))
    return emitOpError() << "input channel count (" << Dim{k}
                         << ") must equal the weight's (" << Dim{kw} << ")";
  int64_t bits = q.getUniformBits();
  double avg = getAvgBits().convertToDouble();
  if (!(avg >= 0 && avg <= static_cast<double>(bits)))
    return emitOpError() << "avg_bits (" << format::formatDouble(avg)
                         << ") must be in [0, bits] = [0, " << bits << "]";
  SmallVector<int64_t> shape(x.getShape().drop_back());
  shape.push_back(w.getShape()[0]);
  return checkResult(*this, "result", getOutput().getType(), shape,
                     x.getElementType());
}

//===----------------------------------------------------------------------===//
// EvictOp
//===----------------------------------------------------------------------===//

int64_t EvictOp::getEffectiveSinks() {
  if (std::optional<int64_t> s = getSinks())
    return *s;
  return getPolicy() == EvictPolicy::SinkWindow ? 4 : 0;
}

int64_t EvictOp::getEffectiveWindow() {
  if (std::optional<int64_t> w = getWindow())
    return *w;
  switch (getPolicy()) {
  case EvictPolicy::SinkWindow:
    return std::max<int64_t>(getBudget() - getEffectiveSinks(), 0);
  case EvictPolicy::SnapKV:
    return 32;
  case EvictPolicy::CompressKV:
    return 8;
  case EvictPolicy::H2O:
  case EvictPolicy::Reservoir:
    return 0;
  }
  llvm_unreachable("unhandled eviction policy");
}

EvictScope EvictOp::getEffectiveScope() {
  if (getPolicy() == EvictPolicy::CompressKV)
    return EvictScope::PerLayer;
  return getScope().value_or(EvictScope::PerHead);
}

/// The results after the kept values: h2o's kept scores, then (paged only)
/// the new lengths. With `paged(...)` the last type is the new lengths, so the
/// two optional results never read ambiguously.
static ParseResult parseEvictTrailingResults(
    OpAsmParser &parser, Type &keptScores, Type &newLens,
    std::optional<OpAsmParser::UnresolvedOperand> blockTable) {
  SmallVector<Type, 2> types;
  SMLoc extra;
  while (succeeded(parser.parseOptionalComma())) {
    if (types.size() == (blockTable ? 2u : 1u))
      extra = parser.getCurrentLocation();
    Type t;
    if (parser.parseType(t))
      return failure();
    types.push_back(t);
  }
  if (extra.isValid())
    return parser.emitError(extra)
           << "too many result types after the kept values: expected "
           << (blockTable ? "the kept scores, then the new lengths"
                          : "the kept scores only (new lengths come with "
                            "paged K/V)");
  if (blockTable && !types.empty())
    newLens = types.pop_back_val();
  if (!types.empty())
    keptScores = types.front();
  return success();
}

static void printEvictTrailingResults(OpAsmPrinter &printer, EvictOp,
                                      Type keptScores, Type newLens, Value) {
  for (Type t : {keptScores, newLens})
    if (t)
      printer << ", " << t;
}

LogicalResult EvictOp::verify() {
  Operation *op = getOperation();
  EvictPolicy policy = getPolicy();
  StringRef policyName = stringifyEvictPolicy(policy);
  bool paged = isPaged();
  auto k = cast<ShapedType>(getKeys().getType());
  auto v = cast<ShapedType>(getValues().getType());
  if (failed(checkRank(op, k, 4, "keys",
                       paged ? "[P, page_size, Hkv, D]" : "[B, Hkv, S, D]")) ||
      failed(
          checkRank(op, v, 4, "values",
                    paged ? "[P, page_size, Hkv, Dv]" : "[B, Hkv, S, Dv]")) ||
      failed(checkKVScheme(op, k, "keys")) ||
      failed(checkKVScheme(op, v, "values")))
    return failure();
  if (!sameShape(v.getShape().drop_back(), k.getShape().drop_back()))
    return emitOpError() << "values shape " << Shape{v.getShape()}
                         << " must match keys shape " << Shape{k.getShape()}
                         << " in all but the last dim";
  int64_t b = k.getDimSize(0), hkv = k.getDimSize(1), s = k.getDimSize(2),
          d = k.getDimSize(3);
  if (static_cast<bool>(getKvLens()) != paged)
    return emitOpError() << "block_table and kv_lens go together (paged K/V)";
  if (paged) {
    // Pools [P, page_size, Hkv, D]: sequence b's S_b tokens are read
    // through its row of the block table.
    std::optional<int64_t> ps = getPageSize();
    if (!ps || *ps <= 0)
      return emitOpError() << "paged K/V need a positive page_size attribute";
    if (!same(k.getDimSize(1), *ps))
      return emitOpError() << "key and value pool pages hold "
                           << Dim{k.getDimSize(1)} << " tokens; page_size is "
                           << *ps;
    auto table = cast<ShapedType>(getBlockTable().getType());
    auto lens = cast<ShapedType>(getKvLens().getType());
    if (failed(checkRank(op, table, 2, "block table", "[B, max_pages]")) ||
        failed(checkRank(op, lens, 1, "kv_lens", "[B]")))
      return failure();
    Type i32 = IntegerType::get(getContext(), 32);
    if (table.getElementType() != i32)
      return emitOpError() << "block table element type ("
                           << table.getElementType() << ") must be i32";
    if (lens.getElementType() != i32)
      return emitOpError() << "kv_lens element type (" << lens.getElementType()
                           << ") must be i32";
    if (!same(lens.getDimSize(0), table.getDimSize(0)))
      return emitOpError() << "kv_lens holds " << Dim{lens.getDimSize(0)}
                           << " lengths but the block table "
                           << Dim{table.getDimSize(0)} << " sequences";
    b = ShapedType::isDynamic(table.getDimSize(0)) ? lens.getDimSize(0)
                                                   : table.getDimSize(0);
    hkv = k.getDimSize(2);
    int64_t pages = table.getDimSize(1);
    s = ShapedType::isDynamic(pages) ? ShapedType::kDynamic : pages * *ps;
  } else if (getPageSize()) {
    return emitOpError() << "page_size goes with a block table (paged K/V)";
  }

  // Which optional operands and fields each policy takes.
  bool needsQuery = policy == EvictPolicy::SnapKV ||
                    policy == EvictPolicy::CompressKV ||
                    policy == EvictPolicy::Reservoir;
  bool needsScores = policy == EvictPolicy::H2O;
  if (needsQuery != static_cast<bool>(getQuery()))
    return emitOpError() << "policy " << policyName
                         << (needsQuery ? " needs a query operand"
                                        : " takes no query operand");
  if (needsScores != static_cast<bool>(getScores()))
    return emitOpError()
           << "policy " << policyName
           << (needsScores ? " needs a scores operand (accumulated attention)"
                           : " takes no scores operand");
  struct Field {
    StringRef name;
    bool present;
    bool allowed;
  };
  bool usesPool =
      policy == EvictPolicy::SnapKV || policy == EvictPolicy::CompressKV;
  Field fields[] = {
      {"sinks", getSinks().has_value(), policy != EvictPolicy::CompressKV},
      {"window", getWindow().has_value(), policy != EvictPolicy::Reservoir},
      {"kernel", getKernel().has_value(), usesPool},
      {"heads", getHeads().has_value(), policy == EvictPolicy::CompressKV},
      {"first_k", getFirstK().has_value(), policy == EvictPolicy::CompressKV},
      {"steps", getSteps().has_value(), policy == EvictPolicy::Reservoir},
      {"gamma", getGamma().has_value(), policy == EvictPolicy::Reservoir},
      {"seed", getSeed().has_value(), policy == EvictPolicy::Reservoir},
      {"layer", getLayer().has_value(), policy == EvictPolicy::Reservoir},
      {"step", getStep().has_value(), policy == EvictPolicy::Reservoir},
      {"scope", getScope().has_value(), policy != EvictPolicy::CompressKV},
  };
  for (const Field &f : fields)
    if (f.present && !f.allowed)
      return emitOpError() << "field '" << f.name
                           << "' does not apply to policy " << policyName;

  int64_t budget = getBudget();
  if (budget <= 0)
    return emitOpError() << "budget (" << budget << ") must be positive";
  if (getSinks() && *getSinks() < 0)
    return emitOpError() << "sinks (" << *getSinks()
                         << ") must be non-negative";
  if (getWindow() && *getWindow() < 0)
    return emitOpError() << "window (" << *getWindow()
                         << ") must be non-negative";
  int64_t sinks = getEffectiveSinks(), window = getEffectiveWindow();
  if (budget < sinks + window)
    return emitOpError() << "budget (" << budget
                         << ") must be at least sinks + window (" << sinks
                         << " + " << window << ")";
  if (policy == EvictPolicy::SinkWindow && budget != sinks + window)
    return emitOpError() << "sink_window keeps sinks + window tokens: budget ("
                         << budget << ") must equal " << sinks << " + "
                         << window;
  if (getKernel() && (*getKernel() <= 0 || *getKernel() % 2 == 0))
    return emitOpError() << "pooling kernel (" << *getKernel()
                         << ") must be positive and odd";
  if (getSteps() && *getSteps() < 0)
    return emitOpError() << "steps (" << *getSteps()
                         << ") must be non-negative";
  if (std::optional<APFloat> g = getGamma()) {
    double x = g->convertToDouble();
    if (!(x >= 0 && x <= 1))
      return emitOpError() << "gamma (" << format::formatDouble(x)
                           << ") must be in [0, 1]";
  }

  if (Value query = getQuery()) {
    auto qt = cast<RankedTensorType>(query.getType());
    if (failed(checkRank(op, qt, 4, "query", "[B, Hq, Sw, D]")))
      return failure();
    int64_t hq = qt.getDimSize(1);
    if (!same(qt.getDimSize(0), b) || !same(qt.getDimSize(3), d))
      return emitOpError() << "query shape " << Shape{qt.getShape()}
                           << " must be [" << Dim{b} << ", Hq, Sw, " << Dim{d}
                           << "]";
    if (!ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hkv) &&
        (hkv == 0 || hq % hkv != 0))
      return emitOpError() << "key head count (" << hkv
                           << ") must divide query head count (" << hq << ")";
    if (qt.getElementType() != k.getElementType())
      return emitOpError() << "query element type (" << qt.getElementType()
                           << ") must match key element type ("
                           << k.getElementType() << ")";
    int64_t sw = qt.getDimSize(2);
    if (usesPool && !ShapedType::isDynamic(sw) && sw < window)
      return emitOpError() << "query holds " << sw
                           << " rows but the observation window is " << window;
    if (ArrayRef<int64_t> heads = getHeads().value_or(ArrayRef<int64_t>{});
        !heads.empty()) {
      for (int64_t h : heads)
        if (h < 0 || (!ShapedType::isDynamic(hq) && h >= hq))
          return emitOpError() << "head index (" << h << ") must be in [0, "
                               << Dim{hq} << ")";
    }
  }
  if (policy == EvictPolicy::CompressKV) {
    if (!getHeads() || getHeads()->empty())
      return emitOpError()
             << "policy compresskv needs 'heads' (the ranked retrieval heads)";
    int64_t firstK = getFirstK().value_or(4);
    if (firstK <= 0 || firstK > static_cast<int64_t>(getHeads()->size()))
      return emitOpError() << "first_k (" << firstK << ") must be in [1, "
                           << getHeads()->size()
                           << "] (the number of ranked heads)";
  }
  if (Value scores = getScores()) {
    auto st = cast<RankedTensorType>(scores.getType());
    if (!sameShape(st.getShape(), {b, hkv, s}))
      return emitOpError() << "scores shape " << Shape{st.getShape()}
                           << " must be [" << Dim{b} << ", " << Dim{hkv} << ", "
                           << Dim{s} << "]";
  }

  // Paged results have `budget` slots per set (-1 past n_b); dense ones n.
  int64_t n = paged                      ? budget
              : ShapedType::isDynamic(s) ? ShapedType::kDynamic
                                         : std::min(budget, s);
  int64_t ih = getEffectiveScope() == EvictScope::PerLayer ? 1 : hkv;
  if (failed(checkResult(op, "indices", getIndices().getType(), {b, ih, n},
                         IntegerType::get(getContext(), 64))))
    return failure();
  auto checkKept = [&](StringRef what, ShapedType in,
                       Type out) -> LogicalResult {
    if (paged) {
      if (out != in)
        return emitOpError() << what << " type (" << out
                             << ") must equal its input pool's (" << in << ")";
      return success();
    }
    if (isa<QTensorType>(in) != isa<QTensorType>(out) ||
        (isa<QTensorType>(in) && cast<QTensorType>(in).getScheme() !=
                                     cast<QTensorType>(out).getScheme()))
      return emitOpError() << what << " type (" << out
                           << ") must keep the storage of its input (" << in
                           << ")";
    SmallVector<int64_t> shape(in.getShape());
    shape[2] = n;
    return checkResult(op, what, cast<ShapedType>(out), shape,
                       in.getElementType());
  };
  if (Value keptScores = getKeptScores()) {
    if (policy != EvictPolicy::H2O)
      return emitOpError() << "policy " << policyName
                           << " returns no kept scores (only h2o does)";
    if (failed(checkResult(op, "kept scores",
                           cast<ShapedType>(keptScores.getType()), {b, hkv, n},
                           Float32Type::get(getContext()))))
      return failure();
  }
  if (static_cast<bool>(getNewLens()) != paged)
    return emitOpError() << (paged ? "paged eviction returns the new lengths "
                                     "[B] i32 as its last result"
                                   : "only paged eviction returns new lengths");
  if (paged && failed(checkResult(op, "new lengths",
                                  cast<ShapedType>(getNewLens().getType()), {b},
                                  IntegerType::get(getContext(), 32))))
    return failure();
  return failure(
      failed(checkKept("kept keys", k, getKeptKeys().getType())) ||
      failed(checkKept("kept values", v, getKeptValues().getType())));
}

//===----------------------------------------------------------------------===//
// LinearBackwardUpdateOp
//===----------------------------------------------------------------------===//

LogicalResult LinearBackwardUpdateOp::verify() {
  Operation *op = getOperation();
  auto x = getInput().getType();
  auto dy = getGradOutput().getType();
  auto w = getWeight().getType();
  if (failed(checkRank(op, x, 2, "input", "[M, K]")) ||
      failed(checkRank(op, dy, 2, "grad_output", "[M, N]")) ||
      failed(checkRank(op, w, 2, "weight", "[N, K]")))
    return failure();
  int64_t m = x.getDimSize(0), kd = x.getDimSize(1), n = w.getDimSize(0);
  if (!same(dy.getDimSize(0), m))
    return emitOpError() << "grad_output rows (" << Dim{dy.getDimSize(0)}
                         << ") must equal input rows (" << Dim{m} << ")";
  if (!same(dy.getDimSize(1), n))
    return emitOpError() << "grad_output columns (" << Dim{dy.getDimSize(1)}
                         << ") must equal weight rows (" << Dim{n} << ")";
  if (!same(w.getDimSize(1), kd))
    return emitOpError() << "weight columns (" << Dim{w.getDimSize(1)}
                         << ") must equal input columns (" << Dim{kd} << ")";
  if (dy.getElementType() != x.getElementType())
    return emitOpError() << "grad_output element type (" << dy.getElementType()
                         << ") must match input element type ("
                         << x.getElementType() << ")";
  OptimizerAttr opt = getOptimizer();
  if (opt.getStochasticRounding() && !w.getElementType().isBF16())
    return emitOpError() << "stochastic_rounding needs a bf16 weight, got "
                         << w.getElementType();

  unsigned expected = opt.getNumStateTensors();
  if (getState().size() != expected)
    return emitOpError() << "optimizer "
                         << stringifyOptimizerKind(opt.getKind())
                         << (opt.getKind() == OptimizerKind::SGD
                                 ? (expected ? " with momentum"
                                             : " without momentum")
                                 : "")
                         << " needs " << expected << " state tensors, got "
                         << getState().size();
  for (auto [i, s] : llvm::enumerate(getState().getTypes()))
    if (!sameShape(cast<ShapedType>(s).getShape(), w.getShape()))
      return emitOpError() << "state #" << i << " shape "
                           << Shape{cast<ShapedType>(s).getShape()}
                           << " must equal the weight shape "
                           << Shape{w.getShape()};
  if (getNewState().size() != getState().size())
    return emitOpError() << "returns " << getNewState().size()
                         << " state tensors, must return " << getState().size();
  if (failed(checkResult(op, "grad_input", getGradInput().getType(),
                         x.getShape(), x.getElementType())) ||
      failed(checkResult(op, "new_weight", getNewWeight().getType(),
                         w.getShape(), w.getElementType())))
    return failure();
  for (auto [i, pair] : llvm::enumerate(
           llvm::zip(getState().getTypes(), getNewState().getTypes())))
    if (std::get<0>(pair) != std::get<1>(pair))
      return emitOpError() << "new state #" << i << " type ("
                           << std::get<1>(pair) << ") must equal state #" << i
                           << " type (" << std::get<0>(pair) << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// TaskGraphOp / TaskOp
//===----------------------------------------------------------------------===//

/// The body's arguments must mirror the operands and its yield the results.
static LogicalResult verifyIsolatedBody(Operation *op, Region &body,
                                        TypeRange inputs, TypeRange results) {
  Block &block = body.front();
  if (block.getArgumentTypes() != inputs)
    return op->emitOpError()
           << "body arguments (" << block.getNumArguments()
           << ") must have the operand types (" << inputs.size() << ")";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op->emitOpError() << "body must end with tessera.yield";
  if (yield.getValues().getTypes() != results)
    return yield.emitOpError()
           << "yields " << yield.getValues().size()
           << " values whose types must match the " << results.size()
           << " results of the enclosing " << op->getName();
  return success();
}

LogicalResult TaskGraphOp::verifyRegions() {
  if (failed(verifyIsolatedBody(*this, getBody(), getInputs().getTypes(),
                                getResults().getTypes())))
    return failure();
  if (std::optional<int64_t> w = getWorkers(); w && *w <= 0)
    return emitOpError() << "workers (" << *w << ") must be positive";
  if (getIterations() <= 0)
    return emitOpError() << "iterations (" << getIterations()
                         << ") must be positive";
  if (getIterations() > 1 && getInputs().getTypes() != getResults().getTypes())
    return emitOpError()
           << "iterations (" << getIterations()
           << ") > 1 feeds each iteration's results back as inputs, so result "
              "types must equal input types";
  for (Operation &inner : getBody().front().without_terminator())
    if (!isa<TaskOp>(inner))
      return inner.emitOpError()
             << "cannot appear directly in a tessera.task_graph (only "
                "tessera.task ops and the yield may)";
  return success();
}

LogicalResult TaskOp::verifyRegions() {
  if (getTiles() <= 0)
    return emitOpError() << "tiles (" << getTiles() << ") must be positive";
  if (getName().empty())
    return emitOpError() << "name must not be empty";
  return verifyIsolatedBody(*this, getBody(), getInputs().getTypes(),
                            getResults().getTypes());
}

#define GET_OP_CLASSES
#include "Tessera/TesseraOps.cpp.inc"
