//===- Ptx.h - The simulator's decoded form of a PTX module -----*- C++ -*-===//
//
// The parser (Parser.cpp) turns PTX text into these structures once; the
// interpreter (Interp.cpp) executes them. Every register is a dense index into
// a per-lane file of 64-bit slots; every instruction has its opcode, types and
// modifiers decoded, so execution never looks at text.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SIM_PTX_H
#define TESSERA_SIM_PTX_H

#include "tessera-sim/Sim.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::sim {

/// Scalar types of PTX (.b/.u/.s/.f widths, packed halves, predicates).
enum class Ty : uint8_t {
  None,
  Pred,
  B8,
  B16,
  B32,
  B64,
  U8,
  U16,
  U32,
  U64,
  S8,
  S16,
  S32,
  S64,
  F16,
  F16x2,
  BF16,
  BF16x2,
  F32,
  F64,
};

/// Size of a type in bytes (predicates: 1).
unsigned sizeOf(Ty t);
bool isSigned(Ty t);
bool isFloat(Ty t);
const char *name(Ty t);

enum class Space : uint8_t { Generic, Global, Shared, Local, Param, Const };

enum class Op : uint8_t {
  Ld,
  St,
  Mov,
  Cvta,
  CvtaTo,
  Add,
  Sub,
  Mul,
  Mad,
  Fma,
  Div,
  Rem,
  Min,
  Max,
  Abs,
  Neg,
  And,
  Or,
  Xor,
  Not,
  Cnot,
  Shl,
  Shr,
  Bfe,
  Bfi,
  Prmt,
  Popc,
  Clz,
  Brev,
  Selp,
  Setp,
  Set,
  Cvt,
  Ex2,
  Lg2,
  Rcp,
  Sqrt,
  Rsqrt,
  Sin,
  Cos,
  Tanh,
  Shfl,
  Vote,
  Bar,
  BarWarp,
  Bra,
  Ret,
  Exit,
  Mma,
  Ldmatrix,
  CpAsync,
  CpAsyncCommit,
  CpAsyncWait,
  Atom,
  Red,
  Redux,
  Bfind,
  Activemask,
  Match,
  Nanosleep,
  Mbarrier,
  CpAsyncArrive,
  CpAsyncBulk, ///< cp.async.bulk.tensor (TMA) loads
  Wmma,
  Membar,
  Fence,
  ProxyFence,
  WgmmaFence,
  WgmmaCommit,
  WgmmaWait,
  Wgmma,
  Trap,
};

/// Modifier flags (a bit set per instruction).
enum Mod : uint32_t {
  M_RN = 1u << 0,
  M_RZ = 1u << 1,
  M_RM = 1u << 2,
  M_RP = 1u << 3,
  M_RNI = 1u << 4,
  M_RZI = 1u << 5,
  M_RMI = 1u << 6,
  M_RPI = 1u << 7,
  M_FTZ = 1u << 8,
  M_SAT = 1u << 9,
  M_APPROX = 1u << 10,
  M_NAN = 1u << 11,
  M_LO = 1u << 12,
  M_HI = 1u << 13,
  M_WIDE = 1u << 14,
  M_UNI = 1u << 15,
  M_ALIGNED = 1u << 16,
  M_NC = 1u << 17,
  M_TRANS = 1u << 18,
  M_ACQUIRE = 1u << 19,
  M_RELEASE = 1u << 20,
  M_VOLATILE = 1u << 21,
  M_FULL = 1u << 22,
  M_PAIR = 1u << 23, ///< two destinations (`setp ... %p|%q`, `shfl ... %r|%p`)
  M_SHIFTCLAMP = 1u << 24,
  M_WRAP = 1u << 25,
  M_SHIFTAMT = 1u << 26,   ///< bfind.shiftamt
  M_PARITY = 1u << 27,     ///< mbarrier.*_wait.parity
  M_EXPECT_TX = 1u << 28,  ///< mbarrier.arrive.expect_tx
  M_NOINC = 1u << 29,      ///< cp.async.mbarrier.arrive.noinc
  M_CACHE_HINT = 1u << 30, ///< .L2::cache_hint: one more operand, ignored
  M_BULK_GROUP = 1u << 31, ///< cp.async.bulk...bulk_group (TMA store)
};

enum class Cmp : uint8_t {
  None,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  Lo,
  Ls,
  Hi,
  Hs,
  Equ,
  Neu,
  Ltu,
  Leu,
  Gtu,
  Geu,
  Num,
  Nan,
};
enum class BoolOp : uint8_t { None, And, Or, Xor };

/// Sub-operation of shfl / vote / atom / red / redux.
enum class Sub : uint8_t {
  None,
  Up,
  Down,
  Bfly,
  Idx, // shfl
  All,
  Any,
  Uni,
  Ballot, // vote
  AAdd,
  AMin,
  AMax,
  AInc,
  ADec,
  AAnd,
  AOr,
  AXor,
  AExch,
  ACas, // atom/red
  MInit,
  MInval,
  MArrive,
  MArriveDrop,
  MTestWait,
  MTryWait,
  MExpectTx,
  MCompleteTx, // mbarrier
  MatchAny,
  MatchAll,   // match
  BulkTensor, // cp.async.bulk.tensor
  BulkCommit,
  BulkWait,  // cp.async.bulk.commit_group / wait_group
  BarArrive, // bar.arrive / barrier.arrive
  WLoad,
  WStore,
  WMma, // wmma
};

enum class Special : uint8_t {
  TidX,
  TidY,
  TidZ,
  NtidX,
  NtidY,
  NtidZ,
  CtaidX,
  CtaidY,
  CtaidZ,
  NctaidX,
  NctaidY,
  NctaidZ,
  Laneid,
  Warpid,
  Nwarpid,
  Smid,
  Nsmid,
  LanemaskEq,
  LanemaskLt,
  LanemaskLe,
  LanemaskGt,
  LanemaskGe,
  Clock,
  Clock64,
  Globaltimer,
  DynamicSmemSize,
  TotalSmemSize,
};

struct Operand {
  enum Kind : uint8_t { None, Reg, Imm, Spec, Addr, Vec, Label, Sink };
  Kind kind = None;
  bool negate = false; ///< `!%p` as a predicate source
  /// Reg: register index; Spec: the Special; Label: instruction index.
  int32_t index = 0;
  /// Imm: raw bits (floats as their IEEE bits); Addr: byte offset.
  uint64_t imm = 0;
  /// Addr: the base register (-1: none) and the symbol's address within its
  /// space (shared offset, param offset, global address of a module variable).
  int32_t base = -1;
  bool hasSymbol = false;
  Space symbolSpace = Space::Generic;
  uint64_t symbolAddress = 0;
  /// Vec: the element operands.
  std::vector<Operand> elems;
};

struct Inst {
  Op op;
  Ty type = Ty::None;  ///< the instruction type (the destination's for cvt)
  Ty type2 = Ty::None; ///< cvt's source type; mma's A/B type; setp's compare
  Ty type3 = Ty::None; ///< mma's C type
  Space space = Space::Generic;
  Space space2 = Space::Generic; ///< a copy's source space (cp.async.bulk)
  uint32_t mods = 0;
  Cmp cmp = Cmp::None;
  BoolOp boolOp = BoolOp::None;
  Sub sub = Sub::None;
  uint8_t vec = 1; ///< .v2 / .v4 element count
  /// mma / wgmma / ldmatrix shape: m, n, k (ldmatrix: .x1/.x2/.x4 in n).
  uint16_t m = 0, n = 0, k = 0;
  /// wmma: the matrix ('a', 'b', 'c', 'd') and its layouts (bit 0: the
  /// first .row/.col is col, bit 1: the second one is).
  char matrix = 0;
  uint8_t colLayouts = 0, layoutCount = 0;
  int32_t guard = -1; ///< guarding predicate register, -1 if none
  bool guardNegated = false;
  std::vector<Operand> ops;
  uint32_t line = 0; ///< PTX source line
  std::string text;  ///< the instruction as written, for diagnostics
};

struct Register {
  std::string name;
  Ty type;
};

/// A variable in .shared / .local / .global / .const.
struct Variable {
  std::string name;
  Space space;
  uint64_t size = 0; ///< bytes (0 for extern dynamic shared arrays)
  unsigned align = 1;
  uint64_t offset = 0; ///< within its space (shared/local: per CTA/thread)
  bool externDynamic = false;
  std::vector<uint8_t> init; ///< initialiser bytes (.global/.const)
};

struct Param {
  std::string name;
  Ty type;
  unsigned size = 0, align = 1, offset = 0;
};

struct Function {
  std::string name;
  bool isEntry = true;
  std::vector<Param> params;
  std::vector<Register> registers;
  std::vector<Inst> code;
  std::map<std::string, uint32_t> labels; ///< "name@scope" -> instruction
  uint64_t staticShared = 0; ///< bytes of .shared variables (module + own)
  uint64_t localBytes = 0;   ///< per-thread .local bytes
  unsigned paramBytes = 0;
  unsigned maxntid[3] = {0, 0, 0};
  unsigned reqntid[3] = {0, 0, 0};
};

struct Module {
  std::string version, target;
  unsigned addressSize = 64;
  std::vector<Variable> globals; ///< .global/.const, with their addresses
  std::vector<Variable> shared;  ///< module-scope .shared
  std::vector<std::unique_ptr<Function>> functions;
  const Function *find(const std::string &name) const;
};

/// "0x1f" for diagnostics.
inline std::string hexString(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 15]);
    v >>= 4;
  } while (v);
  return "0x" + s;
}

/// Parses PTX text; null with `error` = "line N: ..." on failure.
std::unique_ptr<Module> parsePtx(const std::string &text, std::string &error);

/// Runs one launch (Interp.cpp). `globalsBase` is the device address of the
/// module's .global/.const block.
bool runKernel(Device &device, const Module &module, const Function &fn,
               Dim3 grid, Dim3 block, unsigned dynShared,
               const std::vector<uint8_t> &params, const LaunchOptions &options,
               uint64_t globalsBase, LaunchStats &stats, std::string &error);

} // namespace tessera::sim

#endif // TESSERA_SIM_PTX_H
