//===- AttentionToGPU.cpp - tessera.attention -> a tensor-core FA2 kernel -===//
//
// One CTA per (query tile, query head, batch): 4 warps and 64 rows, or 2 warps
// and 32 rows when the op's `tile` (--tessera-tile-attention) says so; each
// warp owns 16 query rows. Q stays in registers as mma A-fragments for the
// whole kernel. For each visible key block of 64 keys (AttentionSchedule:
// causal/window range, mask bit), K and V are staged in shared memory as 32-bit
// words of two bf16/f16 (K pairs along D, V pairs along keys, which is what the
// B-fragments read), then:
//   S = Q K^T   8 key tiles x D/16 k-slices of mma.sync.m16n8k16 (f32
//   accumulate) online softmax on the accumulator fragments (row max/sum across
//   the 4 lanes of a row with shfl.bfly), P rounded to bf16/f16 and repacked
//   into A-fragments in registers (the accumulator layout of two adjacent
//   n-tiles is the A layout of one k-slice) O += P V    Dv/8 tiles x 4 k-slices
//   of mma.sync
// Fragment layouts (PTX ISA, m16n8k16, g = lane / 4, t = lane % 4):
//   A: a0 (g, 2t..2t+1), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..)
//   B: b0 (k 2t..2t+1, n g), b1 (k 2t+8.., n g);  C: c0,c1 (g, 2t..), c2,c3
//   (g+8, 2t..)
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/AttentionSchedule.h"
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Conversion/TesseraToGPU.h"
#include "tessera/Support/GPUAttentionRules.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tessera;

namespace {

using ::tessera::gpu_attention::kBlockK;
using ::tessera::gpu_attention::kRowsPerWarp;
/// Query rows of a wgmma tile (one warpgroup, m64).
constexpr int64_t kBlockQTile =
    ::tessera::gpu_attention::kWgmmaWarps * kRowsPerWarp;

/// Warps per CTA: the op's `tile` (checked before conversion), else the
/// default.
int64_t warpsOf(const AttentionProblem &p) {
  return p.warps ? p.warps : ::tessera::gpu_attention::kDefaultWarps;
}
/// Shared-memory row padding in 32-bit words. The S loop reads K words (row
/// 8j+g, column 8sl+t) and the PV loop V words (row 8sl+t, column 8jd+g); with
/// rows of D/2 + 4 and Dv + 8 words the 32 lanes of a warp hit 32 different
/// banks (4g+t and 8t+g mod 32), where unpadded rows of 64 or 128 words would
/// put 8 (K) or 4 (V) lanes on one bank.
constexpr int64_t kKeyPad = 4, kValuePad = 8;
/// Elements of a half-precision type per 16-byte global load.
constexpr int64_t kChunk = 8;

/// One f32 -> f32 PTX instruction, side-effect free so it schedules and CSEs
/// freely. (GPU-to-NVVM turns llvm.intr.exp2/log2 into libdevice calls; the
/// approximate hardware instructions are what softmax wants, with f32
/// accumulation around them.)
Value ptxUnary(ImplicitLocOpBuilder &b, StringRef instruction, Value x) {
  std::string text = (instruction + " $0, $1;").str();
  return LLVM::InlineAsmOp::create(
             b, b.getF32Type(), ValueRange{x}, b.getStringAttr(text),
             b.getStringAttr("=f,f"), UnitAttr(), UnitAttr(),
             LLVM::TailCallKindAttr::get(
                 b.getContext(), LLVM::tailcallkind::TailCallKind::None),
             LLVM::AsmDialectAttr::get(b.getContext(),
                                       LLVM::AsmDialect::AD_ATT),
             ArrayAttr())
      .getResult(0);
}
/// e^x as 2^(x log2 e) on the ex2.approx unit (ex2(-inf) = 0).
Value ptxExp(Emitter &e, Value x) {
  return ptxUnary(e.builder(), "ex2.approx.ftz.f32",
                  e.mul(x, e.f32(1.4426950408889634)));
}
/// ln x as lg2.approx x * ln 2.
Value ptxLog(Emitter &e, Value x) {
  return e.mul(ptxUnary(e.builder(), "lg2.approx.ftz.f32", x),
               e.f32(0.6931471805599453));
}

/// Builds the kernel body; `e` inserts into the gpu.func.
class KernelBuilder {
public:
  /// A packed K or V: its (elementwise) codec and its component memrefs.
  struct Packed {
    const QuantCodec *codec = nullptr;
    SmallVector<Value> parts;
  };

  KernelBuilder(Emitter &e, const AttentionProblem &p, bool f16, Value q,
                Value k, Value v, Value out, Value lse, Value mask, Value kSmem,
                Value vSmem, Packed kPacked, Packed vPacked)
      : e(e), b(e.builder()), p(p), f16(f16), q(q), k(k), v(v), out(out),
        lse(lse), mask(mask), kSmem(kSmem), vSmem(vSmem),
        kPacked(std::move(kPacked)), vPacked(std::move(vPacked)) {}

  void build() {
    Type i32 = b.getI32Type();
    Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
    qt = gpu::BlockIdOp::create(b, gpu::Dimension::x);
    // kv_splits: CTA x is (query tile, key-range chunk).
    Value split;
    if (p.kvSplits > 1) {
      split = e.remui(qt, e.idx(p.kvSplits));
      qt = e.divui(qt, e.idx(p.kvSplits));
    }
    h = gpu::BlockIdOp::create(b, gpu::Dimension::y);
    bi = gpu::BlockIdOp::create(b, gpu::Dimension::z);
    kvh = e.divui(h, e.idx(p.group));
    tb = bi;
    qoff = koff = e.idx(0);
    if (p.ragged) {
      // Sequence bi's rows of the packed Q/O and K/V (clamped: the GPU is the
      // fast mode).
      tb = e.idx(0);
      packQ = queryLen;
      packK = keyLen;
      std::tie(qoff, queryLen) = emitSequenceRows(e, cuQ, bi, queryLen);
      std::tie(koff, keyLen) = emitSequenceRows(e, cuK, bi, keyLen);
    }
    if (p.paged()) {
      // This sequence's length, clamped to the table's capacity.
      Value len = arith::IndexCastOp::create(
          b, b.getIndexType(), memref::LoadOp::create(b, lens, ValueRange{bi}));
      keyLen = e.minsi(e.maxsi(len, e.idx(0)), keyLen);
    }
    Value warp = e.divui(tid, e.idx(32)), lane = e.remui(tid, e.idx(32));
    g = e.divui(lane, e.idx(4));
    t = e.remui(lane, e.idx(4));
    tid32 = arith::IndexCastOp::create(b, i32, tid);
    q0 = e.mul(qt, e.idx(p.tileQ));
    // The mask/topology row of this CTA's query tile.
    qb = emitMaskRowOfTile(e, p, qt);
    rowA = e.add(e.add(q0, e.mul(warp, e.idx(kRowsPerWarp))), g);
    rowB = e.add(rowA, e.idx(8));

    // Q fragments for every k-slice of D, zero past Sq (mma.sync); with wgmma,
    // Q goes to shared memory once instead.
    SmallVector<SmallVector<Value>> qFrag;
    if (wgmma)
      stageQueryTile(tid);
    for (int64_t s = 0; s < (wgmma ? 0 : p.headDim / 16); ++s) {
      Value c0 = e.add(e.idx(16 * s), e.mul(t, e.idx(2))),
            c1 = e.add(c0, e.idx(8));
      qFrag.push_back({pairRow(q, {tb, h}, rowA, queryLen, c0),
                       pairRow(q, {tb, h}, rowB, queryLen, c0),
                       pairRow(q, {tb, h}, rowA, queryLen, c1),
                       pairRow(q, {tb, h}, rowB, queryLen, c1)});
    }

    // Loop-carried state: O fragments (Dv/8 tiles x 4), then m and l for rows A
    // and B.
    int64_t nOut = p.valueDim / 8;
    SmallVector<Value> init(nOut * 4, e.f32(0));
    init.append({e.negInf(), e.negInf(), e.f32(0), e.f32(0)});
    Value rows = e.minsi(e.idx(p.tileQ), e.sub(queryLen, q0));
    item = WorkItem{bi, h, kvh, qb, q0, rows, queryLen, keyLen, split};
    SmallVector<Value> state = emitKeyBlockWalk(
        e, p, item, mask, tableScope, init,
        [&](Value kb, ValueRange it) -> SmallVector<Value> {
          return keyBlock(kb, qFrag, SmallVector<Value>(it.begin(), it.end()));
        });
    epilogue(state, nOut);
  }

private:
  Type f32() { return b.getF32Type(); }
  Type halfType() { return f16 ? Type(b.getF16Type()) : Type(b.getBF16Type()); }

  /// Ragged: an absolute row of a pack of `total` rows kept inside it (an
  /// empty sequence may start at the pack's end; found by tessera-sim's
  /// bounds checker); other layouts: `row` itself.
  Value packRow(Value row, Value total) {
    if (!p.ragged)
      return row;
    return e.maxsi(e.minsi(row, e.sub(total, e.idx(1))), e.idx(0));
  }

  /// `row` clamped into [0, rows) (row 0 when there are none), so that a
  /// masked-off load still reads inside the tensor.
  Value lastValid(Value row, Value rows) {
    return e.maxsi(e.minsi(row, e.sub(rows, e.idx(1))), e.idx(0));
  }

  /// 16-bit pattern of a half-precision element as i32.
  Value bitsOf(Value half) {
    Value i16 = arith::BitcastOp::create(b, b.getI16Type(), half);
    return arith::ExtUIOp::create(b, b.getI32Type(), i16);
  }
  /// Two halves packed into an i32, `lo` in the low 16 bits.
  Value pack(Value lo, Value hi) {
    return arith::OrIOp::create(
        b, bitsOf(lo), arith::ShLIOp::create(b, bitsOf(hi), e.i32(16)));
  }
  /// mem[prefix..., row, col .. col+1] as a packed pair; 0 when row >= rows.
  Value pairRow(Value mem, ArrayRef<Value> prefix, Value row, Value rows,
                Value col) {
    Value valid = e.cmpi(arith::CmpIPredicate::slt, row, rows);
    Value safe = packRow(e.add(lastValid(row, rows), qoff), packQ);
    SmallVector<Value> at(prefix);
    at.append({safe, col});
    Value lo = memref::LoadOp::create(b, mem, at);
    at.back() = e.add(col, e.idx(1));
    Value hi = memref::LoadOp::create(b, mem, at);
    return e.select(valid, pack(lo, hi), e.i32(0));
  }
  Value mma(ValueRange a, ValueRange bFrag, ValueRange c) {
    auto halfPtx = f16 ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
    auto resTy = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                                  {f32(), f32(), f32(), f32()});
    // bf16 fragments are passed as packed i32 words; f16 ones as vector<2xf16>
    // (the same bits, reinterpreted).
    SmallVector<Value> aOps(a.begin(), a.end()),
        bOps(bFrag.begin(), bFrag.end());
    if (f16) {
      auto v2 = VectorType::get({2}, b.getF16Type());
      for (Value &x : aOps)
        x = LLVM::BitcastOp::create(b, v2, x);
      for (Value &x : bOps)
        x = LLVM::BitcastOp::create(b, v2, x);
    }
    return NVVM::MmaOp::create(b, resTy, aOps, bOps, c, {16, 8, 16},
                               std::nullopt, std::nullopt,
                               std::array<NVVM::MMATypes, 2>{halfPtx, halfPtx},
                               std::array<NVVM::MMALayout, 2>{
                                   NVVM::MMALayout::row, NVVM::MMALayout::col});
  }
  SmallVector<Value> unpack(Value s) {
    SmallVector<Value> out;
    for (int64_t i = 0; i < 4; ++i)
      out.push_back(LLVM::ExtractValueOp::create(b, s, i));
    return out;
  }
  /// Max or sum across the 4 lanes that share a row.
  Value quadReduce(Value x, bool isMax) {
    for (int64_t off : {1, 2}) {
      Value other =
          NVVM::ShflOp::create(b, f32(), e.i32(-1), x, e.i32(off), e.i32(31),
                               NVVM::ShflKind::bfly, UnitAttr());
      x = isMax ? e.maxf(x, other) : e.add(x, other);
    }
    return x;
  }
  Value exp(Value x) { return ptxExp(e, x); }

  /// Packs two f32 values as two halves of one word (`lo` in the low bits).
  Value packF32(Value lo, Value hi) {
    return pack(arith::TruncFOp::create(b, halfType(), lo),
                arith::TruncFOp::create(b, halfType(), hi));
  }

  /// 16 bytes (kChunk halves) of row `row` of mem[prefix..., :, :] from column
  /// `col`, as i16 lanes; zeros past `rows`.
  Value loadChunk(Value mem, ArrayRef<Value> prefix, Value row, Value rows,
                  Value col) {
    auto halves = VectorType::get({kChunk}, halfType());
    auto bits = VectorType::get({kChunk}, b.getI16Type());
    Value valid = e.cmpi(arith::CmpIPredicate::slt, row, rows);
    SmallVector<Value> at(prefix);
    at.append({packRow(e.add(lastValid(row, rows), qoff), packQ), col});
    Value x = vector::LoadOp::create(b, halves, mem, at, /*nontemporal=*/false,
                                     llvm::Align(16));
    Value zero = arith::ConstantOp::create(
        b, DenseElementsAttr::get(bits, APInt(16, 0)));
    return e.select(valid, vector::BitCastOp::create(b, bits, x), zero);
  }
  /// The same for row `key` of K or V of this CTA's (batch, KV head).
  Value loadChunk(Value mem, Value key, Value col) {
    // [kvLead(key)..., col]: dense, paged and ragged alike.
    auto halves = VectorType::get({kChunk}, halfType());
    auto bits = VectorType::get({kChunk}, b.getI16Type());
    Value valid = e.cmpi(arith::CmpIPredicate::slt, key, keyLen);
    SmallVector<Value> at = kvLead(key);
    at.push_back(col);
    Value x = vector::LoadOp::create(b, halves, mem, at, /*nontemporal=*/false,
                                     llvm::Align(16));
    Value zero = arith::ConstantOp::create(
        b, DenseElementsAttr::get(bits, APInt(16, 0)));
    return e.select(valid, vector::BitCastOp::create(b, bits, x), zero);
  }

  /// The leading indices of key `key`'s row of K or V (clamped into the
  /// sequence, so a masked-off lane still reads inside the tensor): [bi, kvh,
  /// key] dense; [page, slot, kvh] paged, page = table[bi, key / page_size]
  /// clamped into the pool (the GPU path is the fast mode).
  SmallVector<Value> kvLead(Value key) {
    Value k = lastValid(key, keyLen);
    if (p.ragged)
      return {tb, kvh, packRow(e.add(koff, k), packK)};
    if (!p.paged())
      return {bi, kvh, k};
    Value ps = e.idx(p.pageSize);
    Value entry =
        memref::LoadOp::create(b, table, ValueRange{bi, e.divui(k, ps)});
    Value page = arith::IndexCastOp::create(b, b.getIndexType(), entry);
    page = e.minsi(e.maxsi(page, e.idx(0)), e.sub(pages, e.idx(1)));
    return {page, e.remui(k, ps), kvh};
  }

  /// Where word `c` (halves 2c, 2c+1) of row `row` of a [64, D/2] tile lives.
  /// mma.sync: at (row, c). wgmma: the canonical no-swizzle K-major layout of 8
  /// x 8 core matrices (8 rows of 16 bytes, 128 contiguous bytes each): core
  /// matrices adjacent along D are LBO = 128 bytes apart, those adjacent along
  /// rows SBO = D/8 x 128 bytes.
  std::pair<Value, Value> wordPos(Value row, Value c) {
    if (!wgmma)
      return {row, c};
    int64_t words = p.headDim / 2;
    Value flat = e.add(
        e.add(e.mul(e.divui(row, e.idx(8)), e.idx(sboBytes() / 4)),
              e.mul(e.divui(c, e.idx(4)), e.idx(32))),
        e.add(e.mul(e.remui(row, e.idx(8)), e.idx(4)), e.remui(c, e.idx(4))));
    return {e.divui(flat, e.idx(words)), e.remui(flat, e.idx(words))};
  }
  int64_t sboBytes() const { return p.headDim / 8 * 128; }

  /// wgmma: the 64 x D query tile into shared memory as core matrices (zeros
  /// past Sq), made visible to the async proxy that wgmma reads through.
  void stageQueryTile(Value tid) {
    int64_t chunks = p.headDim / kChunk;
    e.forLoop(tid, e.idx(kBlockQTile * chunks), warpsOf(p) * 32, [&](Value w) {
      Value m = e.divui(w, e.idx(chunks)), c = e.remui(w, e.idx(chunks));
      Value v = loadChunk(q, {tb, h}, e.add(q0, m), queryLen,
                          e.mul(c, e.idx(kChunk)));
      Value words = vector::BitCastOp::create(
          b, VectorType::get({kChunk / 2}, b.getI32Type()), v);
      auto [i, j] = wordPos(m, e.mul(c, e.idx(kChunk / 2)));
      vector::StoreOp::create(b, words, qSmem, ValueRange{i, j},
                              /*nontemporal=*/false, llvm::Align(16));
    });
    asyncProxyFence();
    NVVM::Barrier0Op::create(b);
  }

  /// Generic-proxy shared-memory writes become visible to wgmma's async-proxy
  /// reads.
  void asyncProxyFence() {
    NVVM::FenceProxyOp::create(
        b, NVVM::ProxyKind::async_shared,
        NVVM::SharedSpaceAttr::get(b.getContext(),
                                   NVVM::SharedSpace::shared_cta));
  }

  /// A wgmma shared-memory matrix descriptor for the core-matrix tile at `mem`
  /// + `offset` bytes: start address >> 4 (bits 0-13), LBO >> 4 (16-29), SBO >>
  /// 4 (32-45), no swizzle.
  Value descriptor(Value mem, int64_t offset) {
    Type i64 = b.getI64Type();
    Value base = arith::IndexCastOp::create(
        b, i64, memref::ExtractAlignedPointerAsIndexOp::create(b, mem));
    Value addr = arith::AddIOp::create(
        b, base, arith::ConstantOp::create(b, b.getI64IntegerAttr(offset)));
    Value field = arith::ShRUIOp::create(
        b,
        arith::AndIOp::create(
            b, addr,
            arith::ConstantOp::create(b, b.getI64IntegerAttr(0x3FFFF))),
        arith::ConstantOp::create(b, b.getI64IntegerAttr(4)));
    int64_t fixed =
        (int64_t{128 >> 4} << 16) | (int64_t{sboBytes() >> 4} << 32);
    return arith::OrIOp::create(
        b, field, arith::ConstantOp::create(b, b.getI64IntegerAttr(fixed)));
  }

  /// S = Q K^T for the 64 x 64 block on wgmma.m64n64k16 (D/16 k-slices, f32
  /// accumulate); returns the 32 accumulator values per thread: value 4j + x is
  /// the mma.sync C fragment x of key tile j (rows g and g + 8 of the warp's
  /// 16, keys 8j + 2t, 8j + 2t + 1).
  SmallVector<Value> wgmmaScores() {
    SmallVector<Type> fields(32, f32());
    auto accType = LLVM::LLVMStructType::getLiteral(b.getContext(), fields);
    // No zero-fill: the first k-slice uses scale-d = 0, so the accumulator's
    // input is ignored, and writing it (the movs LLVM places right before the
    // first wgmma) after wgmma.fence breaks the PTX ISA's fence rule
    // (found by tessera-sim's wgmma checker).
    Value acc = LLVM::UndefOp::create(b, accType);
    auto halfKind = f16 ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16;
    NVVM::WgmmaFenceAlignedOp::create(b);
    for (int64_t sl = 0; sl < p.headDim / 16; ++sl)
      acc = NVVM::WgmmaMmaAsyncOp::create(
          b, accType, acc, descriptor(qSmem, 256 * sl),
          descriptor(kSmem, 256 * sl),
          NVVM::MMAShapeAttr::get(b.getContext(), 64, 64, 16), halfKind,
          halfKind, NVVM::WGMMATypes::f32,
          sl == 0 ? NVVM::WGMMAScaleOut::zero : NVVM::WGMMAScaleOut::one,
          NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one,
          NVVM::MMALayout::row, NVVM::MMALayout::col, /*satfinite=*/nullptr);
    NVVM::WgmmaGroupSyncAlignedOp::create(b);
    NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
    SmallVector<Value> out;
    for (int64_t i = 0; i < 32; ++i)
      out.push_back(LLVM::ExtractValueOp::create(b, acc, i));
    return out;
  }

  /// Plain K: one 16-byte load and one 16-byte shared store per chunk; the
  /// words (two adjacent halves along D) are K's own memory layout.
  void stageKeys(Value tid, Value k0) {
    int64_t chunks = p.headDim / kChunk;
    e.forLoop(tid, e.idx(kBlockK * chunks), warpsOf(p) * 32, [&](Value w) {
      Value row = e.divui(w, e.idx(chunks)), c = e.remui(w, e.idx(chunks));
      Value x = loadChunk(k, e.add(k0, row), e.mul(c, e.idx(kChunk)));
      Value words = vector::BitCastOp::create(
          b, VectorType::get({kChunk / 2}, b.getI32Type()), x);
      auto [i, j] = wordPos(row, e.mul(c, e.idx(kChunk / 2)));
      vector::StoreOp::create(b, words, kSmem, ValueRange{i, j},
                              /*nontemporal=*/false, llvm::Align(16));
    });
  }

  /// Plain V: two 16-byte loads (keys 2kp and 2kp+1, the same 8 columns)
  /// interleaved into 8 words of (V[2kp][c], V[2kp+1][c]), the pairs along keys
  /// that the B-fragments read.
  void stageValues(Value tid, Value k0) {
    int64_t chunks = p.valueDim / kChunk;
    auto words = VectorType::get({kChunk}, b.getI32Type());
    e.forLoop(tid, e.idx(kBlockK / 2 * chunks), warpsOf(p) * 32, [&](Value w) {
      Value kp = e.divui(w, e.idx(chunks)),
            col = e.mul(e.remui(w, e.idx(chunks)), e.idx(kChunk));
      Value key = e.add(k0, e.mul(kp, e.idx(2)));
      Value lo = arith::ExtUIOp::create(b, words, loadChunk(v, key, col));
      Value hi = arith::ExtUIOp::create(
          b, words, loadChunk(v, e.add(key, e.idx(1)), col));
      Value sixteen = arith::ConstantOp::create(
          b, DenseElementsAttr::get(words, APInt(32, 16)));
      Value word =
          arith::OrIOp::create(b, lo, arith::ShLIOp::create(b, hi, sixteen));
      vector::StoreOp::create(b, word, vSmem, ValueRange{kp, col},
                              /*nontemporal=*/false, llvm::Align(16));
    });
  }

  /// Packed K, elementwise codec: every thread decodes whole shared words (two
  /// elements along D of one key row), adjacent threads adjacent words, so the
  /// packed bytes are read coalesced and no per-thread row buffer is needed.
  void stagePackedKeys(Value tid, Value k0, int64_t kWords) {
    e.forLoop(tid, e.idx(kBlockK * kWords), warpsOf(p) * 32, [&](Value w) {
      Value row = e.divui(w, e.idx(kWords)), c = e.remui(w, e.idx(kWords));
      Value key = e.add(k0, row);
      Value valid = e.cmpi(arith::CmpIPredicate::slt, key, keyLen);
      SmallVector<Value> lead = kvLead(key);
      Value d0 = e.mul(c, e.idx(2));
      Value lo = kPacked.codec->emitUnpackElement(e, kPacked.parts, lead, d0);
      Value hi = kPacked.codec->emitUnpackElement(e, kPacked.parts, lead,
                                                  e.add(d0, e.idx(1)));
      auto [i, j] = wordPos(row, c);
      memref::StoreOp::create(b, e.select(valid, packF32(lo, hi), e.i32(0)),
                              kSmem, ValueRange{i, j});
    });
  }

  /// Packed V, elementwise codec: one shared word (keys 2kp and 2kp+1 of one
  /// column) per thread and iteration.
  void stagePackedValues(Value tid, Value k0) {
    e.forLoop(
        tid, e.idx(kBlockK / 2 * p.valueDim), warpsOf(p) * 32, [&](Value w) {
          Value kp = e.divui(w, e.idx(p.valueDim)),
                col = e.remui(w, e.idx(p.valueDim));
          Value key = e.add(k0, e.mul(kp, e.idx(2)));
          auto elem = [&](Value kk) {
            Value valid = e.cmpi(arith::CmpIPredicate::slt, kk, keyLen);
            SmallVector<Value> lead = kvLead(kk);
            return e.select(
                valid,
                vPacked.codec->emitUnpackElement(e, vPacked.parts, lead, col),
                e.f32(0));
          };
          memref::StoreOp::create(
              b, packF32(elem(key), elem(e.add(key, e.idx(1)))), vSmem,
              ValueRange{kp, col});
        });
  }

  /// Stages the key block and returns the updated state.
  SmallVector<Value> keyBlock(Value kb, ArrayRef<SmallVector<Value>> qFrag,
                              SmallVector<Value> state) {
    int64_t nOut = p.valueDim / 8, kWords = p.headDim / 2;
    Value k0 = e.mul(kb, e.idx(kBlockK));
    // Everyone is done reading the previous block before it is overwritten.
    NVVM::Barrier0Op::create(b);
    Value tid = arith::IndexCastOp::create(b, b.getIndexType(), tid32);
    if (kPacked.codec)
      stagePackedKeys(tid, k0, kWords);
    else
      stageKeys(tid, k0);
    if (vPacked.codec)
      stagePackedValues(tid, k0);
    else
      stageValues(tid, k0);
    if (wgmma)
      asyncProxyFence();
    NVVM::Barrier0Op::create(b);

    // S = Q K^T, scaled and masked, as 8 tiles of 16 x 8.
    SmallVector<SmallVector<Value>> s;
    Value mxA = e.negInf(), mxB = e.negInf();
    SmallVector<Value> wg = wgmma ? wgmmaScores() : SmallVector<Value>();
    for (int64_t j = 0; j < kBlockK / 8; ++j) {
      SmallVector<Value> c(4, e.f32(0));
      if (wgmma)
        c.assign(wg.begin() + 4 * j, wg.begin() + 4 * j + 4);
      Value keyRow = e.add(e.idx(8 * j), g);
      for (int64_t sl = 0; sl < (wgmma ? 0 : p.headDim / 16); ++sl) {
        Value w0 = e.add(e.idx(8 * sl), t), w1 = e.add(w0, e.idx(4));
        Value b0 = memref::LoadOp::create(b, kSmem, ValueRange{keyRow, w0});
        Value b1 = memref::LoadOp::create(b, kSmem, ValueRange{keyRow, w1});
        c = unpack(mma(qFrag[sl], {b0, b1}, c));
      }
      for (int64_t x = 0; x < 4; ++x) {
        Value key = e.add(
            k0, e.add(e.idx(8 * j), e.add(e.mul(t, e.idx(2)), e.idx(x % 2))));
        Value row = x < 2 ? rowA : rowB;
        Value visible =
            emitVisible(e, p, emitDiagonal(e, item, row), key, item.keyLen);
        c[x] = e.select(visible, e.mul(c[x], e.f32(p.scale)), e.negInf());
        if (x < 2)
          mxA = e.maxf(mxA, c[x]);
        else
          mxB = e.maxf(mxB, c[x]);
      }
      s.push_back(c);
    }

    // Online softmax per row (A: c0,c1; B: c2,c3).
    Value mOldA = state[nOut * 4], mOldB = state[nOut * 4 + 1];
    Value lOldA = state[nOut * 4 + 2], lOldB = state[nOut * 4 + 3];
    auto expFn = [&](Value x) { return exp(x); };
    SoftmaxStep stepA = emitSoftmaxStep(e, mOldA, quadReduce(mxA, true), expFn);
    SoftmaxStep stepB = emitSoftmaxStep(e, mOldB, quadReduce(mxB, true), expFn);
    Value mSafeA = stepA.origin, mSafeB = stepB.origin;
    Value alphaA = stepA.alpha, alphaB = stepB.alpha;
    Value sumA = e.f32(0), sumB = e.f32(0);
    for (auto &c : s)
      for (int64_t x = 0; x < 4; ++x) {
        c[x] = exp(e.sub(c[x], x < 2 ? mSafeA : mSafeB));
        if (x < 2)
          sumA = e.add(sumA, c[x]);
        else
          sumB = e.add(sumB, c[x]);
      }
    Value lA = e.add(e.mul(alphaA, lOldA), quadReduce(sumA, false));
    Value lB = e.add(e.mul(alphaB, lOldB), quadReduce(sumB, false));

    // P as A-fragments: k-slice sl covers key tiles 2sl and 2sl+1.
    auto round = [&](Value x) {
      return arith::TruncFOp::create(b, halfType(), x);
    };
    SmallVector<SmallVector<Value>> pFrag;
    for (int64_t sl = 0; sl < kBlockK / 16; ++sl) {
      auto &lo = s[2 * sl], &hi = s[2 * sl + 1];
      pFrag.push_back(
          {pack(round(lo[0]), round(lo[1])), pack(round(lo[2]), round(lo[3])),
           pack(round(hi[0]), round(hi[1])), pack(round(hi[2]), round(hi[3]))});
    }

    // O = alpha O + P V.
    SmallVector<Value> next;
    for (int64_t jd = 0; jd < nOut; ++jd) {
      SmallVector<Value> c{
          e.mul(state[4 * jd], alphaA), e.mul(state[4 * jd + 1], alphaA),
          e.mul(state[4 * jd + 2], alphaB), e.mul(state[4 * jd + 3], alphaB)};
      Value col = e.add(e.idx(8 * jd), g);
      for (int64_t sl = 0; sl < kBlockK / 16; ++sl) {
        Value w0 = e.add(e.idx(8 * sl), t), w1 = e.add(w0, e.idx(4));
        Value b0 = memref::LoadOp::create(b, vSmem, ValueRange{w0, col});
        Value b1 = memref::LoadOp::create(b, vSmem, ValueRange{w1, col});
        c = unpack(mma(pFrag[sl], {b0, b1}, c));
      }
      next.append(c.begin(), c.end());
    }
    next.append({stepA.max, stepB.max, lA, lB});
    return next;
  }

  /// O = acc / l in the output type, LSE = m + ln l; rows past Sq are not
  /// written.
  void epilogue(ArrayRef<Value> state, int64_t nOut) {
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    // With kv_splits, O and LSE are this chunk's f32 partials, under a
    // leading split index.
    auto at = [&](std::initializer_list<Value> idx) {
      SmallVector<Value> v;
      if (item.split)
        v.push_back(item.split);
      v.append(idx.begin(), idx.end());
      return v;
    };
    for (int64_t half = 0; half < 2; ++half) {
      Value row = half ? rowB : rowA;
      Value m = state[nOut * 4 + half], l = state[nOut * 4 + 2 + half];
      SoftmaxEnd end =
          emitSoftmaxEnd(e, m, l, [&](Value x) { return ptxLog(e, x); });
      e.ifThen(e.cmpi(arith::CmpIPredicate::slt, row, queryLen), [&] {
        for (int64_t jd = 0; jd < nOut; ++jd)
          for (int64_t x = 0; x < 2; ++x) {
            Value col =
                e.add(e.idx(8 * jd), e.add(e.mul(t, e.idx(2)), e.idx(x)));
            Value o = e.mul(state[4 * jd + 2 * half + x], end.scale);
            memref::StoreOp::create(b, e.fromF32(o, elt), out,
                                    at({tb, h, e.add(qoff, row), col}));
          }
        e.ifThen(e.cmpi(arith::CmpIPredicate::eq, t, e.idx(0)), [&] {
          memref::StoreOp::create(b, end.lse, lse,
                                  at({tb, h, e.add(qoff, row)}));
        });
      });
    }
  }

  Emitter &e;
  ImplicitLocOpBuilder &b;
  const AttentionProblem &p;
  bool f16;
  Value q, k, v, out, lse, mask, kSmem, vSmem;
  Packed kPacked, vPacked;

public:
  /// Where a static topology's tables live (the kernels' gpu.module).
  Operation *tableScope = nullptr;

  Value qt, qb, h, bi, kvh, g, t, tid32, q0, rowA, rowB;
  WorkItem item;
  /// Sq and Skv: constants, or kernel arguments when they are run-time sizes
  /// (paged: Skv is the table's capacity until build() reads kv_lens).
  Value queryLen, keyLen;
  /// Paged: the block table, kv_lens and the pools' page count.
  Value table, lens, pages;
  /// Ragged: the prefix sums; the tensor batch of the pack (0) and this
  /// sequence's first query and key rows in it (0 otherwise).
  Value cuQ, cuK, tb, qoff, koff;
  /// Ragged: the packs' row counts.
  Value packQ, packK;
  /// sm_90a: S = Q K^T on wgmma (Q and K in shared memory as core matrices).
  bool wgmma = false;
  Value qSmem; ///< [64, D/2] words of Q, core-matrix layout (wgmma only)
};

/// A kernel of `threads` threads named after `base` in `module`, with
/// `workgroup` shared buffers (128-byte aligned); `b` is left at the start of
/// its body (the caller keeps an InsertionGuard).
gpu::GPUFuncOp createKernel(ImplicitLocOpBuilder &b, gpu::GPUModuleOp module,
                            StringRef base, TypeRange argTypes,
                            TypeRange workgroup, int64_t threads) {
  b.setInsertionPointToEnd(module.getBody());
  auto kernel =
      gpu::GPUFuncOp::create(b, uniqueKernelName(module, base),
                             b.getFunctionType(argTypes, {}), workgroup);
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  // 16-byte vector stores and wgmma core matrices need 16-byte aligned shared
  // tiles (the default is the element's 4); 128 keeps them cache-line aligned.
  for (unsigned i = 0, n = kernel.getNumWorkgroupAttributions(); i < n; ++i)
    kernel.setWorkgroupAttributionAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                                       b.getI64IntegerAttr(128));
  kernel.setKnownBlockSizeAttr(
      b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
  b.setInsertionPointToStart(&kernel.getBody().front());
  return kernel;
}

/// How the dims of a kernel's buffer relate to the run-time sizes: Q, O and
/// LSE are [B, Hq, Sq, ...]; K, V and their components [B, Hkv, Skv, ...]; a
/// mask [B?, H, QB, KBw].
enum class Role { Query, KV, Mask, Pool, Table, Lens, Partial, Cu };
struct KernelOperand {
  Value buffer; ///< the host's memref
  Role role;
};

/// Inside the kernel: the view of a buffer passed as a bare pointer, with its
/// dynamic dims from the run-time sizes and row-major strides.
Value viewOf(Emitter &e, const AttentionProblem &p, Value pointer,
             const KernelOperand &arg, Value batch, Value queryLen,
             Value keyLen, Value pages, Value cuLen = {}) {
  auto t = cast<MemRefType>(arg.buffer.getType());
  int64_t r = t.getRank();
  SmallVector<Value> dims;
  for (int64_t d = 0; d < r; ++d) {
    if (!t.isDynamicDim(d)) {
      dims.push_back(e.idx(t.getDimSize(d)));
      continue;
    }
    if (arg.role == Role::Pool) { // [P, page_size, Hkv, ...]
      dims.push_back(pages);
      continue;
    }
    if (arg.role == Role::Table) { // [B, max_pages]
      dims.push_back(d == 0 ? batch : e.divui(keyLen, e.idx(p.pageSize)));
      continue;
    }
    if (arg.role == Role::Lens) { // [B]
      dims.push_back(batch);
      continue;
    }
    if (arg.role == Role::Cu) { // [sequences + 1]
      dims.push_back(cuLen);
      continue;
    }
    if (arg.role == Role::Partial) { // [S, B, Hq, Sq, ...]
      dims.push_back(d == 1 ? batch : queryLen);
      continue;
    }
    if (arg.role != Role::Mask) {
      dims.push_back(d == 0 ? batch
                            : (arg.role == Role::Query ? queryLen : keyLen));
      continue;
    }
    Value keyBlocks = e.ceilDiv(keyLen, p.blockK);
    dims.push_back(d == r - 2 ? e.ceilDiv(queryLen, p.blockQ)
                   : d == r - 1
                       ? (p.mask->packed ? e.ceilDiv(keyBlocks, 32) : keyBlocks)
                       : batch);
  }
  return emitRowMajorView(e, pointer, t, dims);
}

class AttentionToGPU : public OpConversionPattern<AttentionOp> {
public:
  AttentionToGPU(const TypeConverter &converter, MLIRContext *ctx, bool wgmma)
      : OpConversionPattern(converter, ctx), wgmma(wgmma) {}

  LogicalResult
  matchAndRewrite(AttentionOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    FailureOr<AttentionProblem> problem = AttentionProblem::get(op);
    if (failed(problem))
      return failure();
    const AttentionProblem &p = *problem;
    ModuleOp module = op->getParentOfType<ModuleOp>();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter host(b);
    Type elt = op.getQuery().getType().getElementType();
    // Run-time batch and lengths: tensors whose shape has a ? travel as bare
    // pointers (memref<1xT>) with B, Sq and Skv as index arguments; the
    // kernel rebuilds their views (memref.reinterpret_cast).
    bool dynamic = p.hasDynamicSizes();

    // The operands as buffers, in kernel-argument order: Q, K (or its
    // components), V (or its components), O, LSE[, mask].
    std::unique_ptr<QuantCodec> kCodec, vCodec;
    auto bufferAll = [&](Value original, ValueRange converted,
                         std::unique_ptr<QuantCodec> &codec) {
      if (auto packed = dyn_cast<QTensorType>(original.getType()))
        codec = QuantCodec::lookup(packed);
      SmallVector<Value> out;
      for (Value v : converted)
        out.push_back(emitToBuffer(b, b.getLoc(), v));
      return out;
    };
    AttentionOperands ops;
    ops.query = emitToBuffer(b, b.getLoc(), adaptor.getQuery().front());
    ops.key = bufferAll(op.getKey(), adaptor.getKey(), kCodec);
    ops.value = bufferAll(op.getValue(), adaptor.getValue(), vCodec);
    if (op.getMask())
      ops.mask = emitToBuffer(b, b.getLoc(), adaptor.getMask().front());
    if (p.paged()) {
      ops.table = emitToBuffer(b, b.getLoc(), adaptor.getBlockTable().front());
      ops.lens = emitToBuffer(b, b.getLoc(), adaptor.getKvLens().front());
    }
    if (p.ragged) {
      ops.cuQ = emitToBuffer(b, b.getLoc(), adaptor.getCuSeqlensQ().front());
      ops.cuK = emitToBuffer(b, b.getLoc(), adaptor.getCuSeqlensK().front());
    }
    // K packed in a rotated domain (M k, decoded element by element): the
    // kernels read queries rotated the same way, since q.k = Mq.Mk.
    if (kCodec && kCodec->hasTransform())
      ops.query = emitRowTransform(b, host, getOrCreateKernelModule(b, module),
                                   *kCodec, ops.query,
                                   /*inverse=*/false);
    AttentionSizes sizes = emitAttentionSizes(host, p, ops);
    // Rules on run-time sizes are checked by the host schedule before the
    // launch (the manifest's `check` lines).
    for (const RuntimeCheck &c : attentionSizeChecks(host, p, sizes, ops))
      cf::AssertOp::create(b, c.ok, "'tessera.attention' " + c.message);

    SmallVector<Value> dynSizes;
    if (ShapedType::isDynamic(p.batch))
      dynSizes.push_back(sizes.batch);
    if (ShapedType::isDynamic(p.queryLen))
      dynSizes.push_back(sizes.queryLen);
    auto outType =
        MemRefType::get({p.batch, p.queryHeads, p.queryLen, p.valueDim}, elt);
    auto lseType =
        MemRefType::get({p.batch, p.queryHeads, p.queryLen}, b.getF32Type());
    Value out = memref::AllocOp::create(b, outType, dynSizes);
    Value lse = memref::AllocOp::create(b, lseType, dynSizes);
    // kv_splits: the attention kernel writes f32 partials that a second
    // kernel combines into O and LSE.
    int64_t splits = p.kvSplits;
    Value partO, partL;
    if (splits > 1) {
      Type f32 = b.getF32Type();
      partO = memref::AllocOp::create(
          b,
          MemRefType::get(
              {splits, p.batch, p.queryHeads, p.queryLen, p.valueDim}, f32),
          dynSizes);
      partL = memref::AllocOp::create(
          b, MemRefType::get({splits, p.batch, p.queryHeads, p.queryLen}, f32),
          dynSizes);
    }

    SmallVector<KernelOperand> bufferArgs{{ops.query, Role::Query}};
    Role kvRole = p.paged() ? Role::Pool : Role::KV;
    for (Value v : ops.key)
      bufferArgs.push_back({v, kvRole});
    for (Value v : ops.value)
      bufferArgs.push_back({v, kvRole});
    size_t outIndex = bufferArgs.size();
    if (splits > 1) {
      bufferArgs.push_back({partO, Role::Partial});
      bufferArgs.push_back({partL, Role::Partial});
    } else {
      bufferArgs.push_back({out, Role::Query});
      bufferArgs.push_back({lse, Role::Query});
    }
    if (ops.mask)
      bufferArgs.push_back({ops.mask, Role::Mask});
    size_t tableIndex = bufferArgs.size();
    if (p.paged()) {
      bufferArgs.push_back({ops.table, Role::Table});
      bufferArgs.push_back({ops.lens, Role::Lens});
    }
    size_t cuIndex = bufferArgs.size();
    if (p.ragged) {
      bufferArgs.push_back({ops.cuQ, Role::Cu});
      bufferArgs.push_back({ops.cuK, Role::Cu});
    }
    size_t nK = ops.key.size(), nV = ops.value.size();

    // Kernel argument types: static buffers as they are, dynamic ones as bare
    // pointers; then B, Sq, Skv when there are run-time sizes.
    SmallVector<Type> argTypes;
    for (const KernelOperand &a : bufferArgs)
      argTypes.push_back(kernelArgType(a.buffer));
    if (dynamic)
      argTypes.append(3, b.getIndexType());
    // Paged: the pools' page count (clamping page indices into the pool);
    // ragged: the prefix sums' size.
    if (p.paged())
      argTypes.push_back(b.getIndexType());
    if (p.ragged)
      argTypes.push_back(b.getIndexType());

    gpu::GPUModuleOp gpuModule = getOrCreateKernelModule(b, module);
    auto wg = gpu::AddressSpaceAttr::get(b.getContext(),
                                         gpu::AddressSpace::Workgroup);
    // wgmma reads K as core matrices (no padding: no bank conflicts to avoid).
    auto kSmemType =
        MemRefType::get({kBlockK, p.headDim / 2 + (wgmma ? 0 : kKeyPad)},
                        b.getI32Type(), nullptr, wg);
    // With wgmma, Q's 16 KiB tile joins K and V: V goes unpadded so the three
    // fit the 48 KiB of static shared memory at D = Dv = 128.
    auto vSmemType =
        MemRefType::get({kBlockK / 2, p.valueDim + (wgmma ? 0 : kValuePad)},
                        b.getI32Type(), nullptr, wg);
    auto qSmemType = MemRefType::get({kBlockQTile, p.headDim / 2},
                                     b.getI32Type(), nullptr, wg);
    gpu::GPUFuncOp kernel;
    {
      OpBuilder::InsertionGuard guard(b);
      kernel = createKernel(b, gpuModule, "tessera_attention", argTypes,
                            wgmma ? TypeRange{kSmemType, vSmemType, qSmemType}
                                  : TypeRange{kSmemType, vSmemType},
                            warpsOf(p) * 32);
      Block &entry = kernel.getBody().front();
      Emitter e(b);
      SmallVector<Value> args(entry.getArguments().begin(),
                              entry.getArguments().end());
      Value batch = e.idx(p.batch), queryLen = e.idx(p.queryLen),
            keyLen = e.idx(p.keyLen), pages;
      size_t n = bufferArgs.size();
      if (p.paged())
        pages = args[n + (dynamic ? 3 : 0)];
      Value cuLen;
      if (p.ragged)
        cuLen = args[n + (dynamic ? 3 : 0) + (p.paged() ? 1 : 0)];
      if (dynamic) {
        batch = ShapedType::isDynamic(p.batch) ? args[n] : batch;
        queryLen = ShapedType::isDynamic(p.queryLen) ? args[n + 1] : queryLen;
        keyLen = ShapedType::isDynamic(p.keyLen) ? args[n + 2] : keyLen;
        for (size_t i = 0; i < n; ++i)
          if (!cast<MemRefType>(bufferArgs[i].buffer.getType())
                   .hasStaticShape())
            args[i] = viewOf(e, p, args[i], bufferArgs[i], batch, queryLen,
                             keyLen, pages, cuLen);
      }
      KernelBuilder::Packed kPacked, vPacked;
      if (kCodec) {
        kPacked.codec = kCodec.get();
        kPacked.parts.assign(args.begin() + 1, args.begin() + 1 + nK);
      }
      if (vCodec) {
        vPacked.codec = vCodec.get();
        vPacked.parts.assign(args.begin() + 1 + nK, args.begin() + 1 + nK + nV);
      }
      KernelBuilder kb(e, p, elt.isF16(), args[0], kCodec ? Value() : args[1],
                       vCodec ? Value() : args[1 + nK], args[outIndex],
                       args[outIndex + 1],
                       ops.mask ? args[outIndex + 2] : Value(),
                       kernel.getWorkgroupAttributions()[0],
                       kernel.getWorkgroupAttributions()[1], kPacked, vPacked);
      kb.tableScope = gpuModule;
      kb.wgmma = wgmma;
      kb.queryLen = queryLen;
      kb.keyLen = keyLen;
      if (p.paged()) {
        kb.table = args[tableIndex];
        kb.lens = args[tableIndex + 1];
        kb.pages = pages;
      }
      if (p.ragged) {
        kb.cuQ = args[cuIndex];
        kb.cuK = args[cuIndex + 1];
      }
      if (wgmma)
        kb.qSmem = kernel.getWorkgroupAttributions()[2];
      kb.build();
      gpu::ReturnOp::create(b);
    }

    // The host side: one launch over (query tiles, query heads, batch).
    SmallVector<Value> buffers;
    for (const KernelOperand &a : bufferArgs)
      buffers.push_back(a.buffer);
    SmallVector<Value> operands = kernelOperands(b, buffers, argTypes);
    if (dynamic)
      operands.append({sizes.batch, sizes.queryLen, sizes.keyLen});
    if (p.paged())
      operands.push_back(memref::DimOp::create(b, ops.key[0], 0));
    if (p.ragged) {
      operands.push_back(memref::DimOp::create(b, ops.cuQ, 0));
      // Packed rows no sequence covers: O = 0, LSE = -inf (the partials, when
      // split, so the combine gives the same).
      if (splits > 1)
        emitFill(b, host, p, gpuModule, partO, partL);
      else
        emitFill(b, host, p, gpuModule, out, lse);
    }
    // (Constants stay constants for static shapes: the manifest then has no
    // run-time sizes.)
    Value gridX = splits <= 1 ? sizes.queryTiles
                  : dynamic   ? host.mul(sizes.queryTiles, host.idx(splits))
                              : host.idx(p.numQueryTiles * splits);
    gpu::LaunchFuncOp::create(
        b, kernel,
        gpu::KernelDim3{gridX, host.idx(p.queryHeads), sizes.sequences},
        gpu::KernelDim3{host.idx(warpsOf(p) * 32), host.idx(1), host.idx(1)},
        /*dynamicSharedMemorySize=*/Value(), operands);
    if (splits > 1)
      emitCombine(b, host, p, gpuModule, sizes, partO, partL, out, lse);
    // V packed in a rotated domain: the kernels accumulated M v, so O is
    // rotated back by M^T.
    if (vCodec && vCodec->hasTransform())
      out = emitRowTransform(b, host, gpuModule, *vCodec, out,
                             /*inverse=*/true);
    rewriter.replaceOp(op, {emitToTensor(b, b.getLoc(), out),
                            emitToTensor(b, b.getLoc(), lse)});
    return success();
  }

private:
  /// A kernel that sets every row of `l` to -inf and of `o` (one more dim,
  /// the last) to 0: a thread per row, rows of any rank (ragged packs, whose
  /// uncovered rows the attention kernel never writes).
  static void emitFill(ImplicitLocOpBuilder &b, Emitter &host,
                       const AttentionProblem &p, gpu::GPUModuleOp gpuModule,
                       Value o, Value l) {
    constexpr int64_t kThreads = 128;
    auto lt = cast<MemRefType>(l.getType());
    auto ot = cast<MemRefType>(o.getType());
    SmallVector<Type> argTypes{kernelArgType(o), kernelArgType(l)};
    // Dynamic dims of `l` (and the same of `o`) as arguments.
    SmallVector<Value> hostDims;
    for (int64_t d = 0; d < lt.getRank(); ++d)
      if (lt.isDynamicDim(d)) {
        argTypes.push_back(b.getIndexType());
        hostDims.push_back(memref::DimOp::create(b, l, d));
      }
    gpu::GPUFuncOp kernel;
    {
      OpBuilder::InsertionGuard guard(b);
      kernel = createKernel(b, gpuModule, "tessera_attention_fill", argTypes,
                            {}, kThreads);
      Block &entry = kernel.getBody().front();
      Emitter e(b);
      SmallVector<Value> dims;
      size_t next = 2;
      for (int64_t d = 0; d < lt.getRank(); ++d)
        dims.push_back(lt.isDynamicDim(d) ? Value(entry.getArgument(next++))
                                          : e.idx(lt.getDimSize(d)));
      // Row-major views over the base pointers.
      auto view = [&](Value ptr, MemRefType t, bool withLast) -> Value {
        if (t.hasStaticShape())
          return ptr;
        SmallVector<Value> shape(dims);
        if (withLast)
          shape.push_back(e.idx(t.getShape().back()));
        return emitRowMajorView(e, ptr, t, shape);
      };
      Value ov = view(entry.getArgument(0), ot, true);
      Value lv = view(entry.getArgument(1), lt, false);
      Value row = e.add(
          e.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), e.idx(kThreads)),
          gpu::ThreadIdOp::create(b, gpu::Dimension::x));
      Value rows = dims[0];
      for (size_t d = 1; d < dims.size(); ++d)
        rows = e.mul(rows, dims[d]);
      e.ifThen(e.cmpi(arith::CmpIPredicate::slt, row, rows), [&] {
        SmallVector<Value> idx(dims.size());
        Value rest = row;
        for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
          idx[d] = e.remui(rest, dims[d]);
          rest = e.divui(rest, dims[d]);
        }
        memref::StoreOp::create(b, e.negInf(), lv, idx);
        Type elt = ot.getElementType();
        idx.push_back(Value());
        e.forLoop(e.idx(0), e.idx(ot.getShape().back()), 1, [&](Value d) {
          idx.back() = d;
          memref::StoreOp::create(b, e.fromF32(e.f32(0), elt), ov, idx);
        });
      });
      gpu::ReturnOp::create(b);
    }
    SmallVector<Value> operands =
        kernelOperands(b, ValueRange{o, l}, TypeRange(argTypes).take_front(2));
    operands.append(hostDims);
    Value rows = host.idx(1);
    for (int64_t d = 0; d < lt.getRank(); ++d)
      rows = host.mul(rows, lt.isDynamicDim(d)
                                ? Value(memref::DimOp::create(b, l, d))
                                : host.idx(lt.getDimSize(d)));
    gpu::LaunchFuncOp::create(
        b, kernel,
        gpu::KernelDim3{host.ceilDiv(rows, kThreads), host.idx(1), host.idx(1)},
        gpu::KernelDim3{host.idx(kThreads), host.idx(1), host.idx(1)},
        /*dynamicSharedMemorySize=*/Value(), operands);
  }

  /// A kernel with a thread per row of `src` ([..., D], any float type)
  /// writing `codec`'s rotation M (M^T with `inverse`) of the row into a fresh
  /// buffer of the same type, which it returns.
  static Value emitRowTransform(ImplicitLocOpBuilder &b, Emitter &host,
                                gpu::GPUModuleOp gpuModule,
                                const QuantCodec &codec, Value src,
                                bool inverse) {
    constexpr int64_t kThreads = 128;
    auto type = cast<MemRefType>(src.getType());
    int64_t dim = type.getShape().back();
    SmallVector<Value> dynSizes;
    int64_t staticRows = 1;
    Value rows;
    for (int64_t d = 0; d + 1 < type.getRank(); ++d) {
      if (!type.isDynamicDim(d)) {
        staticRows *= type.getDimSize(d);
        continue;
      }
      dynSizes.push_back(memref::DimOp::create(b, src, d));
      rows = rows ? host.mul(rows, dynSizes.back()) : dynSizes.back();
    }
    // (Constants stay constants for static shapes.)
    rows = rows ? host.mul(rows, host.idx(staticRows)) : host.idx(staticRows);
    Value blocks = dynSizes.empty()
                       ? host.idx((staticRows + kThreads - 1) / kThreads)
                       : host.ceilDiv(rows, kThreads);
    Value dst = memref::AllocOp::create(b, type, dynSizes);
    SmallVector<Value> buffers{src, dst};
    SmallVector<Type> argTypes{kernelArgType(src), kernelArgType(dst),
                               b.getIndexType()};
    gpu::GPUFuncOp kernel;
    {
      OpBuilder::InsertionGuard guard(b);
      kernel = createKernel(b, gpuModule,
                            inverse ? "tessera_unrotate" : "tessera_rotate",
                            argTypes, {}, kThreads);
      Block &entry = kernel.getBody().front();
      Emitter e(b);
      Value numRows = entry.getArgument(2);
      // Both buffers as [rows, D] views.
      auto rowsView = [&](Value arg) {
        OpFoldResult one = b.getIndexAttr(1);
        return memref::ReinterpretCastOp::create(
                   b,
                   MemRefType::get({ShapedType::kDynamic, dim},
                                   type.getElementType()),
                   arg, OpFoldResult(b.getIndexAttr(0)),
                   {OpFoldResult(numRows), b.getIndexAttr(dim)},
                   {b.getIndexAttr(dim), one})
            .getResult();
      };
      Value in = rowsView(entry.getArgument(0)),
            result = rowsView(entry.getArgument(1));
      Value row = e.add(
          e.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), e.idx(kThreads)),
          gpu::ThreadIdOp::create(b, gpu::Dimension::x));
      e.ifThen(e.cmpi(arith::CmpIPredicate::slt, row, numRows), [&] {
        codec.emitTransform(e, in, {row}, result, {row}, inverse);
      });
      gpu::ReturnOp::create(b);
    }
    SmallVector<Value> operands =
        kernelOperands(b, buffers, TypeRange(argTypes).take_front(2));
    operands.push_back(rows);
    gpu::LaunchFuncOp::create(
        b, kernel, gpu::KernelDim3{blocks, host.idx(1), host.idx(1)},
        gpu::KernelDim3{host.idx(kThreads), host.idx(1), host.idx(1)},
        /*dynamicSharedMemorySize=*/Value(), operands);
    return dst;
  }

  /// The combine kernel of kv_splits: a thread per (batch, head, query row)
  /// merges the chunks' partials by log-sum-exp (the CPU's algebra:
  /// emitSoftmaxStep/End) and writes O in the output type and LSE.
  static void emitCombine(ImplicitLocOpBuilder &b, Emitter &host,
                          const AttentionProblem &p, gpu::GPUModuleOp gpuModule,
                          const AttentionSizes &sizes, Value partO, Value partL,
                          Value out, Value lse) {
    constexpr int64_t kThreads = 128;
    bool dynamic = p.hasDynamicSizes();
    SmallVector<Value> buffers{partO, partL, out, lse};
    SmallVector<Role> roles{Role::Partial, Role::Partial, Role::Query,
                            Role::Query};
    SmallVector<Type> argTypes;
    for (Value v : buffers)
      argTypes.push_back(kernelArgType(v));
    if (dynamic)
      argTypes.append(2, b.getIndexType());
    gpu::GPUFuncOp kernel;
    {
      OpBuilder::InsertionGuard guard(b);
      kernel = createKernel(b, gpuModule, "tessera_attention_combine", argTypes,
                            {}, kThreads);
      Block &entry = kernel.getBody().front();
      Emitter e(b);
      SmallVector<Value> args(entry.getArguments().begin(),
                              entry.getArguments().end());
      Value batch = e.idx(p.batch), queryLen = e.idx(p.queryLen);
      if (dynamic) {
        if (ShapedType::isDynamic(p.batch))
          batch = args[4];
        if (ShapedType::isDynamic(p.queryLen))
          queryLen = args[5];
        for (size_t i = 0; i < 4; ++i)
          if (!cast<MemRefType>(buffers[i].getType()).hasStaticShape())
            args[i] = viewOf(e, p, args[i], {buffers[i], roles[i]}, batch,
                             queryLen, /*keyLen=*/Value(), /*pages=*/Value());
      }
      Value row = e.add(
          e.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), e.idx(kThreads)),
          gpu::ThreadIdOp::create(b, gpu::Dimension::x));
      Value rows = e.mul(e.mul(batch, e.idx(p.queryHeads)), queryLen);
      e.ifThen(e.cmpi(arith::CmpIPredicate::slt, row, rows), [&] {
        Value i = e.remui(row, queryLen);
        Value bh = e.divui(row, queryLen);
        Value h = e.remui(bh, e.idx(p.queryHeads));
        Value bi = e.divui(bh, e.idx(p.queryHeads));
        auto lseOf = [&](int64_t s) {
          return memref::LoadOp::create(b, args[1],
                                        ValueRange{e.idx(s), bi, h, i})
              .getResult();
        };
        Value m = lseOf(0);
        for (int64_t s = 1; s < p.kvSplits; ++s)
          m = e.maxf(m, lseOf(s));
        SoftmaxStep origin =
            emitSoftmaxStep(e, m, m, [&](Value x) { return ptxExp(e, x); });
        SmallVector<Value> weights;
        Value sum = e.f32(0);
        for (int64_t s = 0; s < p.kvSplits; ++s) {
          weights.push_back(ptxExp(e, e.sub(lseOf(s), origin.origin)));
          sum = e.add(sum, weights.back());
        }
        SoftmaxEnd end =
            emitSoftmaxEnd(e, m, sum, [&](Value x) { return ptxLog(e, x); });
        Type elt = cast<MemRefType>(args[2].getType()).getElementType();
        e.forLoop(e.idx(0), e.idx(p.valueDim), 1, [&](Value d) {
          Value acc = e.f32(0);
          for (int64_t s = 0; s < p.kvSplits; ++s) {
            Value o = memref::LoadOp::create(b, args[0],
                                             ValueRange{e.idx(s), bi, h, i, d});
            acc = e.add(acc, e.mul(weights[s], o));
          }
          memref::StoreOp::create(b, e.fromF32(e.mul(acc, end.scale), elt),
                                  args[2], ValueRange{bi, h, i, d});
        });
        memref::StoreOp::create(b, end.lse, args[3], ValueRange{bi, h, i});
      });
      gpu::ReturnOp::create(b);
    }
    SmallVector<Value> operands = kernelOperands(
        b, buffers, TypeRange(argTypes).take_front(buffers.size()));
    if (dynamic)
      operands.append({sizes.batch, sizes.queryLen});
    Value blocks =
        dynamic
            ? host.ceilDiv(
                  host.mul(host.mul(sizes.batch, host.idx(p.queryHeads)),
                           sizes.queryLen),
                  kThreads)
            : host.idx((p.batch * p.queryHeads * p.queryLen + kThreads - 1) /
                       kThreads);
    gpu::LaunchFuncOp::create(
        b, kernel, gpu::KernelDim3{blocks, host.idx(1), host.idx(1)},
        gpu::KernelDim3{host.idx(kThreads), host.idx(1), host.idx(1)},
        /*dynamicSharedMemorySize=*/Value(), operands);
  }

  bool wgmma;
};

} // namespace

void mlir::tessera::populateAttentionToGPUPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns, bool wgmma) {
  patterns.add<AttentionToGPU>(converter, patterns.getContext(), wgmma);
}
