//===- EntryABI.cpp - Calling conventions of a module's entries -----------===//
#include "tessera/Target/EntryABI.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using ::tessera::DType;
using ::tessera::EntryABI;
using ::tessera::TensorSpec;

namespace {

std::optional<DType> dtypeOf(Type t) {
  if (t.isF32())
    return DType::F32;
  if (t.isF16())
    return DType::F16;
  if (t.isBF16())
    return DType::BF16;
  if (t.isUnsignedInteger(8))
    return DType::U8;
  if (t.isInteger(8))
    return DType::I8;
  if (t.isInteger(32))
    return DType::I32;
  if (t.isInteger(64))
    return DType::I64;
  if (t.isInteger(1))
    return DType::I1;
  return std::nullopt;
}

/// Appends the specs of one entry argument or result; fails with a diagnostic
/// on `func`.
LogicalResult appendSpecs(func::FuncOp func, Type type, const std::string &name,
                          std::vector<TensorSpec> &out) {
  auto add = [&](RankedTensorType t, const std::string &n) -> LogicalResult {
    std::optional<DType> dtype = dtypeOf(t.getElementType());
    if (!dtype)
      return func.emitError()
             << "entry @" << func.getName() << ": " << n
             << " has unsupported element type " << t.getElementType();
    TensorSpec spec;
    spec.name = n;
    spec.dtype = *dtype;
    for (int64_t d : t.getShape())
      spec.shape.push_back(ShapedType::isDynamic(d) ? ::tessera::kDynamicDim
                                                    : d);
    out.push_back(std::move(spec));
    return success();
  };
  if (auto t = llvm::dyn_cast<RankedTensorType>(type))
    return add(t, name);
  if (auto q = llvm::dyn_cast<mlir::tessera::QTensorType>(type)) {
    for (const auto &c : q.getStorageComponents())
      if (failed(add(c.type, name + "." + c.name.str())))
        return failure();
    return success();
  }
  return func.emitError() << "entry @" << func.getName() << ": " << name
                          << " has type " << type
                          << "; entries take and return ranked tensors";
}

/// Multiply-add FLOPs of one attention op over its visible (query, key) pairs.
double attentionFlops(mlir::tessera::AttentionOp op) {
  auto q = op.getQuery().getType();
  auto k = llvm::cast<ShapedType>(op.getKey().getType());
  auto v = llvm::cast<ShapedType>(op.getValue().getType());
  // Run-time sizes and per-sequence (paged) lengths: not known here.
  if (!q.hasStaticShape() || !k.hasStaticShape() || !v.hasStaticShape() ||
      op.isPaged())
    return 0;
  int64_t sq = q.getDimSize(2), skv = k.getDimSize(2), off = skv - sq;
  double pairs = 0;
  for (int64_t i = 0; i < sq; ++i) {
    int64_t hi = op.getCausal() ? std::min(skv - 1, i + off) : skv - 1;
    int64_t lo = op.getWindow()
                     ? std::max<int64_t>(0, i + off - *op.getWindow() + 1)
                     : 0;
    pairs += static_cast<double>(std::max<int64_t>(0, hi - lo + 1));
  }
  return 2.0 * static_cast<double>(q.getDimSize(0) * q.getDimSize(1)) * pairs *
         static_cast<double>(q.getDimSize(3) + v.getDimSize(3));
}

/// Where dim `d` of `v` (a value of an entry's body) comes from: an entry
/// argument's dim, followed through the ops whose result sizes are operand
/// sizes. `firstSpec[i]` is the index of argument i's first input spec (a
/// qtensor argument has one per component, which keep its leading dims).
std::optional<::tessera::DimSource> traceDim(Value v, int64_t d,
                                             ArrayRef<int64_t> firstSpec) {
  for (int guard = 0; guard < 64; ++guard) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (!isa<func::FuncOp>(arg.getOwner()->getParentOp()))
        return std::nullopt;
      return ::tessera::DimSource{firstSpec[arg.getArgNumber()], d};
    }
    Operation *def = v.getDefiningOp();
    if (auto att = dyn_cast<mlir::tessera::AttentionOp>(def)) {
      // O: [B, Hq, Sq] of Q, then Dv of V; LSE: [B, Hq, Sq] of Q.
      if (v == att.getOutput() && d == 3) {
        v = att.getValue();
        continue;
      }
      v = att.getQuery();
      continue;
    }
    // graded_matmul: y [..., N] keeps x's leading dims; N is static.
    if (auto gm = dyn_cast_or_null<mlir::tessera::GradedMatmulOp>(def)) {
      auto x = cast<ShapedType>(gm.getInput().getType());
      if (d >= x.getRank() - 1)
        return std::nullopt;
      v = gm.getInput();
      continue;
    }
    // The row ops (hadamard, quantize, dequantize, bit_allocate) and casts
    // keep their operand's leading dims; the last one may be packed, so it is
    // not traced.
    if (def && def->getNumOperands() >= 1 &&
        (isa<mlir::tessera::HadamardOp, mlir::tessera::QuantizeOp,
             mlir::tessera::DequantizeOp, mlir::tessera::BitAllocateOp,
             tensor::CastOp>(def))) {
      auto in = cast<ShapedType>(def->getOperand(0).getType());
      if (d >= in.getRank() - 1 && !isa<tensor::CastOp>(def))
        return std::nullopt;
      v = def->getOperand(0);
      continue;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

Type mlir::tessera::elementTypeOf(MLIRContext *ctx, DType dtype) {
  switch (dtype) {
  case DType::F32:
    return Float32Type::get(ctx);
  case DType::F16:
    return Float16Type::get(ctx);
  case DType::BF16:
    return BFloat16Type::get(ctx);
  case DType::I8:
    return IntegerType::get(ctx, 8);
  case DType::U8:
    return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case DType::I32:
    return IntegerType::get(ctx, 32);
  case DType::I64:
    return IntegerType::get(ctx, 64);
  case DType::I1:
    return IntegerType::get(ctx, 1);
  }
  return {};
}

FailureOr<std::vector<EntryABI>>
mlir::tessera::computeEntryABIs(ModuleOp module) {
  std::vector<EntryABI> entries;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isPrivate() || func.isExternal())
      continue;
    EntryABI abi;
    abi.name = func.getName().str();
    SmallVector<int64_t> firstSpec;
    for (auto [i, t] : llvm::enumerate(func.getArgumentTypes())) {
      firstSpec.push_back(static_cast<int64_t>(abi.inputs.size()));
      if (failed(appendSpecs(func, t, "arg" + std::to_string(i), abi.inputs)))
        return failure();
    }
    auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    for (auto [i, t] : llvm::enumerate(func.getResultTypes())) {
      size_t first = abi.outputs.size();
      if (failed(
              appendSpecs(func, t, "result" + std::to_string(i), abi.outputs)))
        return failure();
      // A run-time dim of a result is the size of some input's dim: the
      // caller learns its output shapes from its input shapes.
      for (size_t k = first; k < abi.outputs.size(); ++k) {
        TensorSpec &spec = abi.outputs[k];
        spec.dimSources.assign(spec.shape.size(), {});
        for (size_t d = 0; d < spec.shape.size(); ++d) {
          if (spec.shape[d] != ::tessera::kDynamicDim)
            continue;
          std::optional<::tessera::DimSource> src =
              traceDim(ret.getOperand(i), static_cast<int64_t>(d), firstSpec);
          if (!src)
            return func.emitError()
                   << "entry @" << func.getName() << ": " << spec.name
                   << " dim " << d
                   << " is dynamic but not the size of an input's dim; "
                      "entries must be callable knowing their inputs' shapes";
          spec.dimSources[d] = *src;
        }
      }
    }
    func.walk([&](mlir::tessera::AttentionOp op) {
      abi.flops += attentionFlops(op);
      abi.blockSparse |= static_cast<bool>(op.getMask());
    });
    entries.push_back(std::move(abi));
  }
  return entries;
}
