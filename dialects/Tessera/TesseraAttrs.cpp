//===- TesseraAttrs.cpp - Tessera attributes: parsing, printing, verifying ===//
#include "Tessera/TesseraAttrs.h"

#include "Tessera/Format.h"
#include "Tessera/TesseraDialect.h"
#include "tessera/Support/Codebooks.h"
#include <cmath>
#include <map>

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <map>
#include <string>

using namespace mlir;
using namespace mlir::tessera;

#include "Tessera/TesseraEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "Tessera/TesseraAttrs.cpp.inc"

void TesseraDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "Tessera/TesseraAttrs.cpp.inc"
      >();
}

/// Prints a float parameter in the shortest form that parses back to the same
/// value.
static void printShortestFloat(AsmPrinter &printer,
                               const llvm::APFloat &value) {
  printer << format::formatFloatLiteral(value.convertToDouble());
}

/// Parses `key = value` fields and flag keywords after the leading keyword of
/// an attribute, rejecting duplicates and keys the caller does not allow.
/// `parseField` is called with the parser positioned after the key; it parses
/// `= value` (or nothing, for flags).
static ParseResult parseFields(
    AsmParser &parser, StringRef owner, ArrayRef<StringRef> allowed,
    function_ref<ParseResult(StringRef key, SMLoc loc)> parseField,
    function_ref<std::optional<std::string>(StringRef key)> rejectReason = {}) {
  llvm::StringSet<> seen;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc loc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key))
      return failure();
    if (rejectReason)
      if (std::optional<std::string> why = rejectReason(key))
        return parser.emitError(loc) << *why;
    if (!llvm::is_contained(allowed, key)) {
      auto diag = parser.emitError(loc) << "unknown field '" << key << "' for "
                                        << owner << " (expected one of: ";
      llvm::interleaveComma(allowed, diag);
      return diag << ")";
    }
    if (!seen.insert(key).second)
      return parser.emitError(loc) << "field '" << key << "' is given twice";
    if (parseField(key, loc))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// QuantAttr
//===----------------------------------------------------------------------===//

static ArrayRef<StringRef> quantFields(QuantScheme scheme) {
  static const StringRef intFields[] = {"bits", "group", "symmetric",
                                        "asymmetric"};
  static const StringRef tqFields[] = {"bits", "rotation", "seed", "norm"};
  static const StringRef latticeFields[] = {
      "lattice", "alpha", "snr", "dither", "rice", "rotation", "seed"};
  static const StringRef gradedFields[] = {"bits"};
  switch (scheme) {
  case QuantScheme::Int:
    return intFields;
  case QuantScheme::TqMse:
  case QuantScheme::BlockGtq:
    return tqFields;
  case QuantScheme::Lattice:
    return latticeFields;
  case QuantScheme::Graded:
    return gradedFields;
  }
  llvm_unreachable("unhandled quantization scheme");
}

Attribute QuantAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc schemeLoc = parser.getCurrentLocation();
  StringRef schemeName;
  if (parser.parseLess() || parser.parseKeyword(&schemeName))
    return {};
  std::optional<QuantScheme> scheme = symbolizeQuantScheme(schemeName);
  if (!scheme) {
    parser.emitError(schemeLoc)
        << "unknown quantization scheme '" << schemeName
        << "' (expected int, tq_mse, block_gtq, lattice or graded)";
    return {};
  }

  SmallVector<int64_t> bits;
  int64_t group = 0, seed = 0;
  bool symmetric = true, rice = false, dither = false;
  std::optional<double> snr;
  bool sawAlpha = false;
  SMLoc snrLoc;
  Rotation rotation =
      (*scheme == QuantScheme::Int || *scheme == QuantScheme::Graded)
          ? Rotation::None
          : Rotation::Hadamard;
  LatticeKind lattice = LatticeKind::E8;
  double alpha = 1.0;
  Type normType = Float32Type::get(ctx);
  bool sawSymmetry = false;

  auto parseField = [&](StringRef key, SMLoc loc) -> ParseResult {
    if (key == "symmetric" || key == "asymmetric") {
      if (sawSymmetry)
        return parser.emitError(loc)
               << "give one of 'symmetric' and 'asymmetric'";
      sawSymmetry = true;
      symmetric = key == "symmetric";
      return success();
    }
    if (key == "rice") {
      rice = true;
      return success();
    }
    if (key == "dither") {
      dither = true;
      return success();
    }
    if (parser.parseEqual())
      return failure();
    if (key == "bits") {
      if (succeeded(parser.parseOptionalLSquare())) {
        if (parser.parseCommaSeparatedList([&]() -> ParseResult {
              int64_t b;
              if (parser.parseInteger(b))
                return failure();
              bits.push_back(b);
              return success();
            }) ||
            parser.parseRSquare())
          return failure();
        return success();
      }
      int64_t b;
      if (parser.parseInteger(b))
        return failure();
      bits.push_back(b);
      return success();
    }
    if (key == "group")
      return parser.parseInteger(group);
    if (key == "seed")
      return parser.parseInteger(seed);
    if (key == "alpha") {
      sawAlpha = true;
      return parser.parseFloat(alpha);
    }
    if (key == "snr") {
      snrLoc = loc;
      double db;
      if (parser.parseFloat(db))
        return failure();
      snr = db;
      return success();
    }
    if (key == "norm")
      return parser.parseType(normType);
    SMLoc valueLoc = parser.getCurrentLocation();
    StringRef value;
    if (parser.parseKeyword(&value))
      return failure();
    if (key == "rotation") {
      std::optional<Rotation> r = symbolizeRotation(value);
      if (!r)
        return parser.emitError(valueLoc)
               << "unknown rotation '" << value
               << "' (expected none, hadamard or haar)";
      rotation = *r;
      return success();
    }
    assert(key == "lattice" && "field list and parser disagree");
    std::optional<LatticeKind> l = symbolizeLatticeKind(value);
    if (!l)
      return parser.emitError(valueLoc)
             << "unknown lattice '" << value << "' (expected e8, d4, a2 or z)";
    lattice = *l;
    return success();
  };

  std::string owner = ("'" + schemeName + "' quantization").str();
  if (parseFields(parser, owner, quantFields(*scheme), parseField) ||
      parser.parseGreater())
    return {};
  if (*scheme != QuantScheme::Lattice && bits.empty()) {
    parser.emitError(schemeLoc)
        << "'" << schemeName << "' quantization needs 'bits'";
    return {};
  }
  if (snr) {
    if (sawAlpha) {
      parser.emitError(snrLoc) << "give one of 'alpha' and 'snr'";
      return {};
    }
    if (!std::isfinite(*snr)) {
      parser.emitError(snrLoc) << "snr must be finite (dB)";
      return {};
    }
    LatticeId id = lattice == LatticeKind::E8   ? LatticeId::E8
                   : lattice == LatticeKind::D4 ? LatticeId::D4
                   : lattice == LatticeKind::A2 ? LatticeId::A2
                                                : LatticeId::Z;
    alpha = latticeAlphaForSnr(id, *snr);
  }
  return parser.getChecked<QuantAttr>(
      schemeLoc, ctx, *scheme, bits, group, symmetric, rotation, seed, lattice,
      llvm::APFloat(alpha), rice, normType, dither);
}

void QuantAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyQuantScheme(getScheme());
  switch (getScheme()) {
  case QuantScheme::Int:
    printer << ", bits = " << getUniformBits();
    if (getGroup() != 0)
      printer << ", group = " << getGroup();
    printer << ", " << (getSymmetric() ? "symmetric" : "asymmetric");
    break;
  case QuantScheme::TqMse:
  case QuantScheme::BlockGtq:
    if (getScheme() == QuantScheme::TqMse) {
      printer << ", bits = " << getUniformBits();
    } else {
      printer << ", bits = [";
      llvm::interleaveComma(getBits(), printer);
      printer << "]";
    }
    printer << ", rotation = " << stringifyRotation(getRotation())
            << ", seed = " << getSeed() << ", norm = " << getNormType();
    break;
  case QuantScheme::Lattice:
    printer << ", lattice = " << stringifyLatticeKind(getLattice())
            << ", alpha = ";
    printShortestFloat(printer, getAlpha());
    if (getDither())
      printer << ", dither";
    if (getRice())
      printer << ", rice";
    printer << ", rotation = " << stringifyRotation(getRotation())
            << ", seed = " << getSeed();
    break;
  case QuantScheme::Graded:
    printer << ", bits = " << getUniformBits();
    break;
  }
  printer << ">";
}

LogicalResult QuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                QuantScheme scheme, ArrayRef<int64_t> bits,
                                int64_t group, bool symmetric,
                                Rotation rotation, int64_t seed,
                                LatticeKind lattice, llvm::APFloat alpha,
                                bool rice, Type normType, bool dither) {
  StringRef name = stringifyQuantScheme(scheme);
  if (scheme == QuantScheme::Lattice) {
    if (!bits.empty())
      return emitError() << "lattice quantization takes no 'bits' (its rate "
                            "follows 'alpha')";
    if (!(alpha.convertToDouble() > 0.0) || !alpha.isFinite())
      return emitError() << "lattice scale alpha ("
                         << format::formatDouble(alpha.convertToDouble())
                         << ") must be positive and finite";
  } else {
    if (bits.empty())
      return emitError() << "'" << name << "' quantization needs 'bits'";
    if (scheme != QuantScheme::BlockGtq && bits.size() != 1)
      return emitError() << "'" << name
                         << "' quantization takes one bit width, got "
                         << bits.size();
    for (int64_t b : bits)
      if (b < 1 || b > 8)
        return emitError() << "bit width (" << b << ") must be in [1, 8]";
  }
  if (group < 0)
    return emitError() << "quantization group (" << group
                       << ") must be positive";
  if (scheme == QuantScheme::Int && symmetric && bits.front() < 2)
    return emitError()
           << "symmetric int quantization needs at least 2 bits (1 bit leaves "
              "only the zero level); use asymmetric";
  if ((scheme == QuantScheme::TqMse || scheme == QuantScheme::BlockGtq) &&
      rotation == Rotation::None)
    return emitError() << "'" << name
                       << "' quantization needs a random rotation (hadamard or "
                          "haar), got none";
  if (dither && scheme != QuantScheme::Lattice)
    return emitError() << "dither applies to lattice quantization only";
  if (!normType.isF32() && !normType.isF16())
    return emitError() << "norm type (" << normType << ") must be f32 or f16";
  return success();
}

int64_t QuantAttr::getLatticeDim() const {
  switch (getLattice()) {
  case LatticeKind::E8:
    return 8;
  case LatticeKind::D4:
    return 4;
  case LatticeKind::A2:
    return 2;
  case LatticeKind::Z:
    return 1;
  }
  llvm_unreachable("unhandled lattice");
}

LogicalResult
QuantAttr::verifyForHeadDim(function_ref<InFlightDiagnostic()> emitError,
                            int64_t d) const {
  switch (getScheme()) {
  case QuantScheme::Int:
    if (getGroup() != 0 && d % getGroup() != 0)
      return emitError() << "quantization group (" << getGroup()
                         << ") must divide the quantized dim (" << d << ")";
    break;
  case QuantScheme::BlockGtq:
    if (d % 2 != 0)
      return emitError()
             << "block_gtq needs an even head dim (RoPE pairs), got " << d;
    if (static_cast<int64_t>(getBits().size()) != d / 2)
      return emitError()
             << "block_gtq needs one bit width per RoPE block: expected "
             << d / 2 << " (head dim " << d << " / 2), got "
             << getBits().size();
    break;
  case QuantScheme::Lattice:
    if (d % getLatticeDim() != 0)
      return emitError() << "lattice dimension (" << getLatticeDim()
                         << ") must divide the quantized dim (" << d << ")";
    break;
  case QuantScheme::TqMse:
  case QuantScheme::Graded:
    break;
  }
  if (getScheme() == QuantScheme::BlockGtq &&
      getRotation() == Rotation::Hadamard) {
    // Each bit width's dims (two per RoPE block) are rotated on their own.
    std::map<int64_t, int64_t> blocksPerWidth;
    for (int64_t b : getBits())
      ++blocksPerWidth[b];
    for (auto [width, blocks] : blocksPerWidth)
      if (!llvm::isPowerOf2_64(2 * blocks))
        return emitError()
               << "block_gtq with hadamard rotation rotates the dims of each "
                  "bit width on their own, so each width needs a power-of-two "
                  "dim count; "
               << width << "-bit blocks cover " << 2 * blocks
               << " dims (use rotation = haar)";
    return success();
  }
  if (getRotation() == Rotation::Hadamard && !llvm::isPowerOf2_64(d))
    return emitError()
           << "hadamard rotation needs a power-of-two quantized dim, got " << d
           << " (use rotation = haar)";
  return success();
}

//===----------------------------------------------------------------------===//
// OptimizerAttr
//===----------------------------------------------------------------------===//

static ArrayRef<StringRef> optimizerFields(OptimizerKind kind) {
  static const StringRef sgd[] = {"lr", "momentum", "dampening", "weight_decay",
                                  "stochastic_rounding"};
  static const StringRef adam[] = {
      "lr", "beta1", "beta2", "eps", "weight_decay", "stochastic_rounding"};
  return kind == OptimizerKind::SGD ? ArrayRef<StringRef>(sgd)
                                    : ArrayRef<StringRef>(adam);
}

/// Fields that users of unfused optimizers expect but that are not
/// element-wise.
static std::optional<std::string> nonElementwiseReason(StringRef key) {
  if (key == "max_grad_norm" || key == "clip_grad_norm" ||
      key == "clip_global_norm")
    return ("'" + key +
            "' is not supported: global-norm clipping needs the norm of the "
            "whole weight "
            "gradient, which a fused update never materialises; clip dy before "
            "the backward "
            "or use an unfused update")
        .str();
  if (key == "grad_accumulation" || key == "accumulate_steps" ||
      key == "accumulation_steps")
    return ("'" + key +
            "' is not supported: gradient accumulation keeps the weight "
            "gradient across "
            "steps, which a fused update never materialises; accumulate dy "
            "instead")
        .str();
  return std::nullopt;
}

OptimizerAttr OptimizerAttr::getDefault(MLIRContext *ctx, OptimizerKind kind) {
  using llvm::APFloat;
  return get(ctx, kind, APFloat(1e-3), APFloat(0.0), APFloat(0.0), APFloat(0.9),
             APFloat(0.999), APFloat(1e-8),
             APFloat(kind == OptimizerKind::AdamW ? 1e-2 : 0.0),
             /*stochasticRounding=*/false);
}

unsigned OptimizerAttr::getNumStateTensors() const {
  if (getKind() == OptimizerKind::SGD)
    return getMomentum().isZero() ? 0 : 1;
  return 2;
}

Attribute OptimizerAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc kindLoc = parser.getCurrentLocation();
  StringRef kindName;
  if (parser.parseLess() || parser.parseKeyword(&kindName))
    return {};
  std::optional<OptimizerKind> kind = symbolizeOptimizerKind(kindName);
  if (!kind) {
    parser.emitError(kindLoc) << "unknown optimizer '" << kindName
                              << "' (expected sgd, adam or adamw)";
    return {};
  }
  OptimizerAttr def = getDefault(ctx, *kind);
  double lr = def.getLr().convertToDouble(), momentum = 0, dampening = 0,
         beta1 = def.getBeta1().convertToDouble(),
         beta2 = def.getBeta2().convertToDouble(),
         eps = def.getEps().convertToDouble(),
         weightDecay = def.getWeightDecay().convertToDouble();
  bool stochastic = false;
  auto parseField = [&](StringRef key, SMLoc) -> ParseResult {
    if (key == "stochastic_rounding") {
      stochastic = true;
      return success();
    }
    double *slot = llvm::StringSwitch<double *>(key)
                       .Case("lr", &lr)
                       .Case("momentum", &momentum)
                       .Case("dampening", &dampening)
                       .Case("beta1", &beta1)
                       .Case("beta2", &beta2)
                       .Case("eps", &eps)
                       .Case("weight_decay", &weightDecay);
    return failure(parser.parseEqual() || parser.parseFloat(*slot));
  };
  std::string owner = ("optimizer '" + kindName + "'").str();
  if (parseFields(parser, owner, optimizerFields(*kind), parseField,
                  nonElementwiseReason) ||
      parser.parseGreater())
    return {};
  using llvm::APFloat;
  return parser.getChecked<OptimizerAttr>(
      kindLoc, ctx, *kind, APFloat(lr), APFloat(momentum), APFloat(dampening),
      APFloat(beta1), APFloat(beta2), APFloat(eps), APFloat(weightDecay),
      stochastic);
}

void OptimizerAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyOptimizerKind(getKind());
  auto field = [&](StringRef name, const llvm::APFloat &v) {
    printer << ", " << name << " = ";
    printShortestFloat(printer, v);
  };
  field("lr", getLr());
  if (getKind() == OptimizerKind::SGD) {
    field("momentum", getMomentum());
    field("dampening", getDampening());
  } else {
    field("beta1", getBeta1());
    field("beta2", getBeta2());
    field("eps", getEps());
  }
  field("weight_decay", getWeightDecay());
  if (getStochasticRounding())
    printer << ", stochastic_rounding";
  printer << ">";
}

LogicalResult
OptimizerAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      OptimizerKind kind, llvm::APFloat lr,
                      llvm::APFloat momentum, llvm::APFloat dampening,
                      llvm::APFloat beta1, llvm::APFloat beta2,
                      llvm::APFloat eps, llvm::APFloat weightDecay, bool) {
  double inf = std::numeric_limits<double>::max();
  auto inRange = [&](StringRef name, const llvm::APFloat &v, double lo,
                     double hi, bool hiOpen) -> LogicalResult {
    double x = v.convertToDouble();
    if (!v.isFinite() || x < lo || x > hi || (hiOpen && x == hi))
      return emitError() << "optimizer field '" << name << "' ("
                         << format::formatDouble(x) << ") must be in ["
                         << format::formatDouble(lo) << ", "
                         << (hi == inf ? std::string("inf")
                                       : format::formatDouble(hi))
                         << (hiOpen ? ")" : "]");
    return success();
  };
  if (failed(inRange("lr", lr, 0, inf, false)) ||
      failed(inRange("weight_decay", weightDecay, 0, inf, false)))
    return failure();
  if (kind == OptimizerKind::SGD)
    return failure(failed(inRange("momentum", momentum, 0, 1, true)) ||
                   failed(inRange("dampening", dampening, 0, 1, false)));
  if (failed(inRange("beta1", beta1, 0, 1, true)) ||
      failed(inRange("beta2", beta2, 0, 1, true)))
    return failure();
  if (!(eps.convertToDouble() > 0) || !eps.isFinite())
    return emitError() << "optimizer field 'eps' ("
                       << format::formatDouble(eps.convertToDouble())
                       << ") must be positive";
  return success();
}

//===----------------------------------------------------------------------===//
// BlockTopologyAttr
//===----------------------------------------------------------------------===//

Attribute BlockTopologyAttr::parse(AsmParser &parser, Type) {
  int64_t batch = 0, heads = 0, queryBlocks = 0, keyBlocks = 0;
  SmallVector<int32_t> offsets, indices;
  auto list = [&](SmallVectorImpl<int32_t> &out) {
    return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square,
                                          [&]() -> ParseResult {
                                            int32_t v;
                                            if (parser.parseInteger(v))
                                              return failure();
                                            out.push_back(v);
                                            return success();
                                          });
  };
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword("batch") ||
      parser.parseEqual() || parser.parseInteger(batch) ||
      parser.parseComma() || parser.parseKeyword("heads") ||
      parser.parseEqual() || parser.parseInteger(heads) ||
      parser.parseComma() || parser.parseKeyword("query_blocks") ||
      parser.parseEqual() || parser.parseInteger(queryBlocks) ||
      parser.parseComma() || parser.parseKeyword("key_blocks") ||
      parser.parseEqual() || parser.parseInteger(keyBlocks) ||
      parser.parseComma() || parser.parseKeyword("offsets") ||
      parser.parseEqual() || list(offsets) || parser.parseComma() ||
      parser.parseKeyword("indices") || parser.parseEqual() || list(indices) ||
      parser.parseGreater())
    return {};
  return parser.getChecked<BlockTopologyAttr>(loc, parser.getContext(), batch,
                                              heads, queryBlocks, keyBlocks,
                                              offsets, indices);
}

void BlockTopologyAttr::print(AsmPrinter &printer) const {
  printer << "<batch = " << getBatch() << ", heads = " << getHeads()
          << ", query_blocks = " << getQueryBlocks()
          << ", key_blocks = " << getKeyBlocks() << ", offsets = [";
  llvm::interleaveComma(getOffsets(), printer);
  printer << "], indices = [";
  llvm::interleaveComma(getIndices(), printer);
  printer << "]>";
}

LogicalResult
BlockTopologyAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                          int64_t batch, int64_t heads, int64_t queryBlocks,
                          int64_t keyBlocks, ArrayRef<int32_t> offsets,
                          ArrayRef<int32_t> indices) {
  if (batch < 1 || heads < 1 || queryBlocks < 1 || keyBlocks < 1)
    return emitError() << "block topology dims (batch " << batch << ", heads "
                       << heads << ", query_blocks " << queryBlocks
                       << ", key_blocks " << keyBlocks << ") must be positive";
  int64_t rows = batch * heads * queryBlocks;
  if (static_cast<int64_t>(offsets.size()) != rows + 1)
    return emitError() << "block topology needs " << rows + 1
                       << " offsets (one per row plus "
                       << "one), got " << offsets.size();
  if (offsets.front() != 0 ||
      offsets.back() != static_cast<int64_t>(indices.size()))
    return emitError() << "block topology offsets must run from 0 to the "
                          "number of indices ("
                       << indices.size() << "), got " << offsets.front()
                       << " .. " << offsets.back();
  // All offsets first: the index walk below relies on them staying inside
  // `indices`.
  for (int64_t r = 0; r < rows; ++r)
    if (offsets[r] > offsets[r + 1])
      return emitError() << "block topology offsets must not decrease (row "
                         << r << ")";
  for (int64_t r = 0; r < rows; ++r) {
    for (int32_t i = offsets[r]; i < offsets[r + 1]; ++i) {
      if (indices[i] < 0 || indices[i] >= keyBlocks)
        return emitError() << "block topology index (" << indices[i]
                           << ") must be in [0, " << keyBlocks << ")";
      if (i > offsets[r] && indices[i] <= indices[i - 1])
        return emitError()
               << "block topology indices must ascend within a row (row " << r
               << ")";
    }
  }
  return success();
}
