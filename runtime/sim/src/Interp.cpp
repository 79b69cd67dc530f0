//===- Interp.cpp - Executing decoded PTX: grids, CTAs, warps, checkers ---===//
//
// Execution model (docs/simulator.md):
//  - A warp runs its lanes in lockstep: each step picks the smallest program
//    counter among its runnable lanes and executes that instruction for every
//    lane at it (min-PC reconvergence: lanes that branch apart meet again at
//    the first instruction both paths reach in layout order, which for the
//    reducible control flow compilers emit is the immediate post-dominator).
//  - A CTA's warps interleave in quanta; resident CTAs interleave too, so
//    kernels whose CTAs wait on each other progress. Memory is sequentially
//    consistent.
//  - Checkers: bounds/alignment on every access, shared-memory hazards
//    between barriers (accesses by different warps in one barrier interval,
//    at least one a write), reads of never-written shared bytes, barriers
//    reached by part of a warp, deadlocks.
//
//===----------------------------------------------------------------------===//
#include "Ptx.h"
#include "tessera-sim/Numeric.h"
#include "tessera-sim/Sim.h"

#include <algorithm>
#include <cfenv>
#include <chrono>
#include <climits>
#include <cstdio>
#include <sstream>

using namespace tessera::sim;

namespace {

constexpr uint64_t kSharedWindow = 0x0000'7e00'0000'0000ull;
constexpr uint64_t kLocalWindow = 0x0000'7d00'0000'0000ull;
constexpr uint64_t kParamWindow = 0x0000'7c00'0000'0000ull;
constexpr uint64_t kWindowSize = 0x0000'0001'0000'0000ull;

/// The failure of a launch: thrown inside the interpreter, caught at launch.
struct SimError {
  std::string message;
};

struct Warp {
  unsigned index = 0;
  uint32_t exists = 0; ///< lanes that are threads of the CTA
  uint32_t exited = 0;
  uint32_t atBarrier = 0; ///< lanes waiting in bar.sync
  uint32_t barrierPc = 0;
  unsigned barrierId = 0;
  uint32_t pc[32] = {};
  std::vector<uint64_t> regs; ///< regs[r * 32 + lane]
  /// wgmma.mma_async is warpgroup-collective: a warp that reaches it waits
  /// here until the other three warps of its warpgroup do.
  bool atWgmma = false;
  uint32_t wgmmaPc = 0;
  /// The wgmma.fence rule: registers written (by anything but wgmma) since
  /// the warp's last wgmma.fence; all, before its first.
  std::vector<uint8_t> writtenSinceFence;
  uint32_t lastFenceLine = 0;
  bool done() const { return (exists & ~exited) == 0; }
};

struct SharedShadow {
  uint32_t writer = 0; ///< thread + 1 of the last write (0: never written)
  uint32_t writeEpoch = 0;
  int16_t readerWarp = -1;
  bool readersFromManyWarps = false;
  uint32_t readEpoch = 0;
  /// Written through the generic proxy (st.shared) since the last
  /// fence.proxy.async: not yet visible to wgmma's async-proxy reads.
  bool genericSinceProxyFence = false;
  /// The PTX line of a cp.async whose copy into this byte has not completed
  /// (0: none): plain accesses to it are reported.
  uint32_t asyncLine = 0;
  /// That copy is a cp.async.bulk.tensor, which completes on an mbarrier.
  bool asyncBulk = false;
};

/// One cp.async.bulk.tensor (TMA load): read at issue, written to shared
/// memory (and its bytes completed on the mbarrier) when the mbarrier is
/// next polled, so that the destination is in flight until a wait.
struct PendingBulk {
  uint64_t mbarrier;                               ///< shared offset
  std::vector<std::pair<uint64_t, uint8_t>> bytes; ///< (shared offset, value)
  uint32_t thread, line;
};

/// One cp.async of one thread, performed when its group is waited for.
struct PendingCopy {
  uint64_t dst;     ///< shared offset
  uint64_t src;     ///< global address
  unsigned bytes;   ///< cp-size
  unsigned srcSize; ///< bytes read from src; the rest is zero-filled
  uint64_t group;   ///< 0: not committed yet
  uint32_t line;
};

struct Cta {
  unsigned x, y, z;
  uint64_t linear;
  std::vector<Warp> warps;
  std::vector<uint8_t> shared;
  std::vector<SharedShadow> shadow;
  std::vector<uint8_t> local; ///< per-thread frames, back to back
  uint32_t epoch = 1;
  bool done = false;
  /// cp.async state per thread: copies in flight, groups committed so far.
  std::vector<std::vector<PendingCopy>> copies;
  std::vector<uint64_t> committedGroups;
  std::vector<PendingBulk> bulkCopies;
  /// The 16 CTA barriers: threads arrived in the current phase (a warp
  /// counts 32, as the PTX ISA says) and the count that completes it (0:
  /// every warp that has not exited, bar.sync without a thread count).
  struct NamedBarrier {
    uint32_t arrived = 0, expected = 0;
  };
  NamedBarrier barriers[16];
  /// mbarrier objects by shared offset (PTX ISA, "Parallel Synchronization
  /// and Communication Instructions: mbarrier").
  struct Mbarrier {
    uint32_t expected = 0, pending = 0;
    uint64_t phase = 0;
    int64_t tx = 0;
  };
  std::map<uint64_t, Mbarrier> mbarriers;
};

class Interpreter {
public:
  Interpreter(Device &device, const Function &fn, Dim3 grid, Dim3 block,
              unsigned dynShared, const std::vector<uint8_t> &params,
              const LaunchOptions &opts, uint64_t globalsBase)
      : dev_(device), fn_(fn), grid_(grid), block_(block),
        dynShared_(dynShared), params_(params), opts_(opts),
        globalsBase_(globalsBase) {
    threadsPerCta_ = static_cast<unsigned>(block.count());
    warpsPerCta_ = (threadsPerCta_ + 31) / 32;
    sharedBytes_ = fn.staticShared;
    if (dynShared_) {
      dynBase_ = (sharedBytes_ + 127) / 128 * 128;
      sharedBytes_ = dynBase_ + dynShared_;
    } else {
      dynBase_ = (sharedBytes_ + 127) / 128 * 128;
    }
    numRegs_ = fn.registers.size();
  }

  void run(LaunchStats &stats) {
    uint64_t total = grid_.count();
    unsigned resident = opts_.residentCtas ? opts_.residentCtas : 132;
    std::vector<Cta> live;
    uint64_t nextCta = 0;
    auto admit = [&]() {
      while (live.size() < resident && nextCta < total) {
        live.push_back(makeCta(nextCta++));
      }
    };
    admit();
    while (!live.empty()) {
      bool progressed = false;
      for (Cta &cta : live) {
        if (cta.done)
          continue;
        if (stepCta(cta))
          progressed = true;
      }
      // Retire finished CTAs and admit new ones.
      size_t before = live.size();
      live.erase(std::remove_if(live.begin(), live.end(),
                                [](const Cta &c) { return c.done; }),
                 live.end());
      if (live.size() != before)
        progressed = true;
      admit();
      if (!progressed && !live.empty())
        deadlock(live);
      if (opts_.instructionLimit && warpInstructions_ > opts_.instructionLimit)
        throw SimError{"kernel '" + fn_.name + "' exceeded " +
                       std::to_string(opts_.instructionLimit) +
                       " warp instructions (an endless loop?)"};
    }
    stats.warpInstructions = warpInstructions_;
    stats.threadInstructions = threadInstructions_;
  }

private:
  Device &dev_;
  const Function &fn_;
  Dim3 grid_, block_;
  unsigned dynShared_;
  const std::vector<uint8_t> &params_;
  const LaunchOptions &opts_;
  uint64_t globalsBase_;
  unsigned threadsPerCta_, warpsPerCta_;
  uint64_t sharedBytes_, dynBase_;
  size_t numRegs_;
  uint64_t warpInstructions_ = 0, threadInstructions_ = 0;

  // Current context, for diagnostics.
  const Cta *curCta_ = nullptr;
  const Warp *curWarp_ = nullptr;
  const Inst *curInst_ = nullptr;

  Cta makeCta(uint64_t linear) {
    Cta c;
    c.linear = linear;
    c.x = static_cast<unsigned>(linear % grid_.x);
    c.y = static_cast<unsigned>((linear / grid_.x) % grid_.y);
    c.z = static_cast<unsigned>(linear / (uint64_t(grid_.x) * grid_.y));
    c.shared.assign(sharedBytes_, 0);
    if (opts_.checks.races || opts_.checks.uninitialized || opts_.checks.wgmma)
      c.shadow.assign(sharedBytes_, SharedShadow());
    c.copies.assign(threadsPerCta_, {});
    c.committedGroups.assign(threadsPerCta_, 0);
    c.local.assign(fn_.localBytes * threadsPerCta_, 0);
    c.warps.resize(warpsPerCta_);
    for (unsigned w = 0; w < warpsPerCta_; ++w) {
      Warp &warp = c.warps[w];
      warp.index = w;
      unsigned first = w * 32;
      unsigned lanes = std::min(32u, threadsPerCta_ - first);
      warp.exists = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1);
      warp.regs.assign(numRegs_ * 32, 0);
      if (opts_.checks.wgmma)
        warp.writtenSinceFence.assign(numRegs_, 1);
    }
    return c;
  }

  [[noreturn]] void fail(const std::string &what, int lane = -1) {
    std::ostringstream os;
    os << "kernel '" << fn_.name << "'";
    if (curInst_)
      os << ", PTX line " << curInst_->line << " (" << curInst_->text << ")";
    if (curCta_)
      os << ", CTA (" << curCta_->x << "," << curCta_->y << "," << curCta_->z
         << ")";
    if (curWarp_ && lane >= 0) {
      unsigned t = curWarp_->index * 32 + lane;
      os << ", thread (" << t % block_.x << "," << (t / block_.x) % block_.y
         << "," << t / (block_.x * block_.y) << ")";
    }
    os << ": " << what;
    throw SimError{os.str()};
  }

  void deadlock(const std::vector<Cta> &live) {
    std::ostringstream os;
    os << "kernel '" << fn_.name << "' deadlocked: no warp can run";
    for (const Cta &c : live) {
      if (c.done)
        continue;
      for (const Warp &w : c.warps) {
        if (w.done())
          continue;
        os << "\n  CTA (" << c.x << "," << c.y << "," << c.z << ") warp "
           << w.index << ": ";
        if (w.atBarrier) {
          const Inst &in = fn_.code[w.barrierPc];
          os << "waits at barrier " << w.barrierId << " (PTX line " << in.line
             << ", lanes " << hexString(w.atBarrier) << ")";
        } else if (w.atWgmma) {
          os << "waits for its warpgroup at wgmma.mma_async (PTX line "
             << fn_.code[w.wgmmaPc].line << ")";
        } else {
          os << "runnable";
        }
      }
    }
    curInst_ = nullptr;
    throw SimError{os.str()};
  }

  /// Runs each warp of the CTA for a quantum; returns whether anything ran or
  /// a barrier released.
  bool stepCta(Cta &cta) {
    curCta_ = &cta;
    bool progressed = false;
    for (Warp &w : cta.warps) {
      for (unsigned q = 0; q < opts_.quantum; ++q) {
        if (w.done() || w.atBarrier || w.atWgmma)
          break;
        stepWarp(cta, w);
        progressed = true;
      }
    }
    if (completeWgmmas(cta))
      progressed = true;
    // Barrier release. With a thread count: when that many have arrived
    // (bar.sync waits, bar.arrive does not). Without: when every warp that
    // has not finished waits at it with all its live lanes.
    for (unsigned id = 0; id < 16; ++id) {
      Cta::NamedBarrier &b = cta.barriers[id];
      if (!b.arrived)
        continue;
      bool complete = b.expected != 0 && b.arrived == b.expected;
      if (b.expected == 0) {
        complete = true;
        for (Warp &w : cta.warps)
          if (!w.done() &&
              (w.atBarrier != (w.exists & ~w.exited) || w.barrierId != id))
            complete = false;
      }
      if (!complete)
        continue;
      for (Warp &w : cta.warps) {
        if (w.done() || !w.atBarrier || w.barrierId != id)
          continue;
        for (unsigned l = 0; l < 32; ++l)
          if (w.atBarrier >> l & 1)
            w.pc[l] = w.barrierPc + 1;
        w.atBarrier = 0;
      }
      b.arrived = 0;
      ++cta.epoch; // lenient: a release orders the whole CTA's accesses
      progressed = true;
    }
    bool allDone = true;
    for (Warp &w : cta.warps)
      if (!w.done())
        allDone = false;
    if (allDone && !cta.bulkCopies.empty()) {
      curInst_ = nullptr; // the line is the copy's, named below
      fail("the CTA exits with the cp.async.bulk.tensor of PTX line " +
           std::to_string(cta.bulkCopies.front().line) +
           " in flight (no thread waited on its mbarrier)");
    }
    if (allDone)
      cta.done = true;
    return progressed || cta.done;
  }

  // ----- register and operand access ---------------------------------------

  uint64_t &reg(Warp &w, int32_t r, unsigned lane) {
    return w.regs[static_cast<size_t>(r) * 32 + lane];
  }

  uint64_t special(const Cta &cta, const Warp &w, Special s, unsigned lane) {
    unsigned t = w.index * 32 + lane;
    switch (s) {
    case Special::TidX:
      return t % block_.x;
    case Special::TidY:
      return (t / block_.x) % block_.y;
    case Special::TidZ:
      return t / (block_.x * block_.y);
    case Special::NtidX:
      return block_.x;
    case Special::NtidY:
      return block_.y;
    case Special::NtidZ:
      return block_.z;
    case Special::CtaidX:
      return cta.x;
    case Special::CtaidY:
      return cta.y;
    case Special::CtaidZ:
      return cta.z;
    case Special::NctaidX:
      return grid_.x;
    case Special::NctaidY:
      return grid_.y;
    case Special::NctaidZ:
      return grid_.z;
    case Special::Laneid:
      return lane;
    case Special::Warpid:
      return w.index;
    case Special::Nwarpid:
      return warpsPerCta_;
    case Special::Smid:
      return cta.linear % 132;
    case Special::Nsmid:
      return 132;
    case Special::LanemaskEq:
      return 1u << lane;
    case Special::LanemaskLt:
      return (1u << lane) - 1;
    case Special::LanemaskLe:
      return lane == 31 ? 0xffffffffu : (2u << lane) - 1;
    case Special::LanemaskGt:
      return lane == 31 ? 0 : ~((2u << lane) - 1);
    case Special::LanemaskGe:
      return ~((1u << lane) - 1);
    case Special::Clock:
    case Special::Clock64:
    case Special::Globaltimer:
      return warpInstructions_;
    case Special::DynamicSmemSize:
      return dynShared_;
    case Special::TotalSmemSize:
      return sharedBytes_;
    }
    return 0;
  }

  uint64_t symbolValue(const Operand &o) const {
    if (!o.hasSymbol)
      return o.imm;
    switch (o.symbolSpace) {
    case Space::Global:
    case Space::Const:
      return globalsBase_ + o.symbolAddress;
    case Space::Shared:
      return o.symbolAddress == ~0ull ? dynBase_ : o.symbolAddress;
    default:
      return o.symbolAddress;
    }
  }

  uint64_t read(Cta &cta, Warp &w, const Operand &o, unsigned lane) {
    switch (o.kind) {
    case Operand::Reg: {
      uint64_t v = reg(w, o.index, lane);
      return o.negate ? !v : v;
    }
    case Operand::Imm:
      return symbolValue(o);
    case Operand::Spec:
      return special(cta, w, static_cast<Special>(o.index), lane);
    default:
      fail("operand is not a value");
    }
  }

  void write(Warp &w, const Operand &o, unsigned lane, uint64_t v, Ty t) {
    if (o.kind == Operand::Sink)
      return;
    if (o.kind != Operand::Reg)
      fail("destination is not a register");
    unsigned bytes = sizeOf(t);
    if (t == Ty::Pred)
      v = v ? 1 : 0;
    else if (bytes < 8)
      v &= (1ull << (bytes * 8)) - 1;
    reg(w, o.index, lane) = v;
    if (!w.writtenSinceFence.empty())
      w.writtenSinceFence[o.index] = 1;
  }

  // ----- memory -------------------------------------------------------------

  /// Resolves an address operand to (space, address within the space).
  std::pair<Space, uint64_t> address(Cta &cta, Warp &w, const Inst &in,
                                     const Operand &o, unsigned lane) {
    uint64_t a = o.imm;
    if (o.base >= 0)
      a += reg(w, o.base, lane);
    if (o.hasSymbol)
      a += symbolValue(o);
    Space s = in.space;
    if (o.hasSymbol && s == Space::Generic)
      s = o.symbolSpace;
    (void)cta;
    if (s == Space::Generic) {
      if (a >= kSharedWindow && a < kSharedWindow + kWindowSize)
        return {Space::Shared, a - kSharedWindow};
      if (a >= kLocalWindow && a < kLocalWindow + kWindowSize)
        return {Space::Local, a - kLocalWindow};
      if (a >= kParamWindow && a < kParamWindow + kWindowSize)
        return {Space::Param, a - kParamWindow};
      return {Space::Global, a};
    }
    if (s == Space::Const)
      return {Space::Global, a}; // const variables live in the globals block
    return {s, a};
  }

  uint8_t *memoryAt(Cta &cta, Warp &w, Space s, uint64_t a, unsigned bytes,
                    unsigned lane, bool isWrite) {
    const char *what = isWrite ? "write" : "read";
    // Every access, vectors included, must be aligned to its full size.
    if (opts_.checks.bounds && bytes && (a % bytes) != 0)
      fail(std::string("misaligned ") + what + " of " + std::to_string(bytes) +
               " bytes at " + spaceName(s) + " address " + hexString(a),
           lane);
    switch (s) {
    case Space::Global: {
      uint8_t *p = dev_.memory().translate(a, bytes);
      if (!p)
        fail(std::string("out-of-bounds ") + what + " of " +
                 std::to_string(bytes) + " bytes at global address " +
                 hexString(a) + " (" + dev_.memory().describe(a, bytes) + ")",
             lane);
      return p;
    }
    case Space::Shared:
      if (a + bytes > cta.shared.size() || a + bytes < a)
        fail(std::string("out-of-bounds ") + what + " of " +
                 std::to_string(bytes) + " bytes at shared offset " +
                 hexString(a) + " (the CTA has " +
                 std::to_string(cta.shared.size()) + " bytes of shared memory)",
             lane);
      return cta.shared.data() + a;
    case Space::Local: {
      unsigned t = w.index * 32 + lane;
      if (a + bytes > fn_.localBytes)
        fail(std::string("out-of-bounds ") + what + " of " +
                 std::to_string(bytes) + " bytes at local offset " +
                 hexString(a) + " (the thread has " +
                 std::to_string(fn_.localBytes) + " bytes of local memory)",
             lane);
      return cta.local.data() + t * fn_.localBytes + a;
    }
    case Space::Param:
      if (isWrite)
        fail("store to kernel parameter space", lane);
      if (a + bytes > params_.size())
        fail("parameter read at offset " + hexString(a) + " beyond the " +
                 std::to_string(params_.size()) + " parameter bytes",
             lane);
      return const_cast<uint8_t *>(params_.data()) + a;
    default:
      fail("unsupported state space");
    }
  }

  static const char *spaceName(Space s) {
    switch (s) {
    case Space::Global:
      return "global";
    case Space::Shared:
      return "shared";
    case Space::Local:
      return "local";
    case Space::Param:
      return "param";
    case Space::Const:
      return "const";
    default:
      return "generic";
    }
  }

  /// Shared-memory hazard and initialisation checks for one access.
  void checkShared(Cta &cta, Warp &w, uint64_t off, unsigned bytes,
                   unsigned lane, bool isWrite) {
    if (cta.shadow.empty())
      return;
    uint32_t me = w.index * 32 + lane + 1;
    for (unsigned i = 0; i < bytes; ++i) {
      SharedShadow &s = cta.shadow[off + i];
      if (s.asyncLine && opts_.checks.races)
        fail(std::string(isWrite ? "write to" : "read of") + " shared offset " +
                 hexString(off + i) + ", the destination of the " +
                 (s.asyncBulk ? "cp.async.bulk.tensor" : "cp.async") +
                 " of PTX line " + std::to_string(s.asyncLine) +
                 (s.asyncBulk ? ", whose mbarrier phase has not completed "
                                "(missing mbarrier wait?)"
                              : ", which has not completed (missing "
                                "cp.async.wait_group?)"),
             lane);
      if (isWrite) {
        if (opts_.checks.races) {
          if (s.writer && s.writer != me && s.writeEpoch == cta.epoch &&
              (s.writer - 1) / 32 != w.index)
            fail("shared-memory race: write to shared offset " +
                     hexString(off + i) + " also written by thread " +
                     std::to_string(s.writer - 1) + " since the last barrier",
                 lane);
          if (s.readEpoch == cta.epoch &&
              (s.readersFromManyWarps ||
               (s.readerWarp >= 0 &&
                static_cast<unsigned>(s.readerWarp) != w.index)))
            fail("shared-memory race: write to shared offset " +
                     hexString(off + i) + " read by another warp (" +
                     (s.readersFromManyWarps
                          ? std::string("several")
                          : "warp " + std::to_string(s.readerWarp)) +
                     ") since the last barrier",
                 lane);
        }
        s.writer = me;
        s.writeEpoch = cta.epoch;
        s.genericSinceProxyFence = true;
      } else {
        if (opts_.checks.uninitialized && !s.writer)
          fail("read of uninitialised shared memory at offset " +
                   hexString(off + i) + " (never written by this CTA)",
               lane);
        if (opts_.checks.races && s.writer && s.writer != me &&
            s.writeEpoch == cta.epoch && (s.writer - 1) / 32 != w.index)
          fail("shared-memory race: read of shared offset " +
                   hexString(off + i) + " written by thread " +
                   std::to_string(s.writer - 1) +
                   " since the last barrier (missing bar.sync?)",
               lane);
        if (s.readEpoch != cta.epoch) {
          s.readEpoch = cta.epoch;
          s.readerWarp = static_cast<int16_t>(w.index);
          s.readersFromManyWarps = false;
        } else if (s.readerWarp != static_cast<int16_t>(w.index)) {
          s.readersFromManyWarps = true;
        }
      }
    }
  }

  void load(Cta &cta, Warp &w, Space s, uint64_t a, void *dst, unsigned bytes,
            unsigned lane) {
    uint8_t *p = memoryAt(cta, w, s, a, bytes, lane, false);
    if (s == Space::Shared)
      checkShared(cta, w, a, bytes, lane, false);
    std::memcpy(dst, p, bytes);
  }

  void store(Cta &cta, Warp &w, Space s, uint64_t a, const void *src,
             unsigned bytes, unsigned lane) {
    uint8_t *p = memoryAt(cta, w, s, a, bytes, lane, true);
    if (s == Space::Shared)
      checkShared(cta, w, a, bytes, lane, true);
    std::memcpy(p, src, bytes);
  }

  // ----- arithmetic helpers -------------------------------------------------

  static int64_t sext(uint64_t v, unsigned bytes) {
    unsigned bits = bytes * 8;
    if (bits >= 64)
      return static_cast<int64_t>(v);
    uint64_t m = 1ull << (bits - 1);
    v &= (1ull << bits) - 1;
    return static_cast<int64_t>((v ^ m) - m);
  }
  static uint64_t zext(uint64_t v, unsigned bytes) {
    return bytes >= 8 ? v : v & ((1ull << (bytes * 8)) - 1);
  }

  static Round roundOf(uint32_t mods) {
    if (mods & (M_RZ | M_RZI))
      return Round::Zero;
    if (mods & (M_RM | M_RMI))
      return Round::Down;
    if (mods & (M_RP | M_RPI))
      return Round::Up;
    return Round::Nearest;
  }

  /// Runs `f` under the instruction's IEEE rounding mode.
  template <typename F> static auto rounded(uint32_t mods, F f) {
    Round r = roundOf(mods);
    if (r == Round::Nearest)
      return f();
    int old = std::fegetround();
    std::fesetround(r == Round::Zero   ? FE_TOWARDZERO
                    : r == Round::Down ? FE_DOWNWARD
                                       : FE_UPWARD);
    auto v = f();
    std::fesetround(old);
    return v;
  }

  static float toF32(uint64_t bits, Ty t) {
    switch (t) {
    case Ty::F16:
      return f16ToFloat(static_cast<uint16_t>(bits));
    case Ty::BF16:
      return bf16ToFloat(static_cast<uint16_t>(bits));
    default:
      return floatOf(static_cast<uint32_t>(bits));
    }
  }

  static uint64_t fromF32(float f, Ty t, Round r) {
    switch (t) {
    case Ty::F16:
      return floatToF16(f, r);
    case Ty::BF16:
      return floatToBf16(f, r);
    default:
      return bitsOf(f);
    }
  }

  uint64_t floatBinary(const Inst &in, uint64_t a, uint64_t b) {
    if (in.type == Ty::F64) {
      double x = doubleOf(a), y = doubleOf(b);
      double r = rounded(in.mods, [&]() -> double {
        switch (in.op) {
        case Op::Add:
          return x + y;
        case Op::Sub:
          return x - y;
        case Op::Mul:
          return x * y;
        case Op::Div:
          return x / y;
        default:
          return 0;
        }
      });
      return bitsOf(r);
    }
    if (in.type == Ty::F16x2 || in.type == Ty::BF16x2) {
      Ty h = in.type == Ty::F16x2 ? Ty::F16 : Ty::BF16;
      uint64_t lo = floatBinaryHalf(in, h, a & 0xffff, b & 0xffff);
      uint64_t hi = floatBinaryHalf(in, h, a >> 16 & 0xffff, b >> 16 & 0xffff);
      return lo | hi << 16;
    }
    if (in.type == Ty::F16 || in.type == Ty::BF16)
      return floatBinaryHalf(in, in.type, a, b);
    float x = floatOf(static_cast<uint32_t>(a)),
          y = floatOf(static_cast<uint32_t>(b));
    if (in.mods & M_FTZ) {
      x = flush(x);
      y = flush(y);
    }
    float r;
    if (in.op == Op::Div && (in.mods & (M_APPROX | M_FULL)))
      r = x / y; // within the 2 ulp that div.approx/div.full promise
    else
      r = rounded(in.mods, [&]() -> float {
        switch (in.op) {
        case Op::Add:
          return x + y;
        case Op::Sub:
          return x - y;
        case Op::Mul:
          return x * y;
        case Op::Div:
          return x / y;
        default:
          return 0;
        }
      });
    return bitsOf(finishF32(in.mods, r));
  }

  static float finishF32(uint32_t mods, float r) {
    if (mods & M_FTZ)
      r = flush(r);
    if (mods & M_SAT)
      r = std::isnan(r) ? 0.0f : std::min(1.0f, std::max(0.0f, r));
    return r;
  }

  uint64_t floatBinaryHalf(const Inst &in, Ty h, uint64_t a, uint64_t b) {
    // f16/bf16 arithmetic: exact in f32 for add/sub/mul of halves, then one
    // rounding to the half type (double rounding cannot occur: the f32
    // result of two halves' sum or product is exact).
    float x = toF32(a, h), y = toF32(b, h);
    float r;
    switch (in.op) {
    case Op::Add:
      r = x + y;
      break;
    case Op::Sub:
      r = x - y;
      break;
    case Op::Mul:
      r = x * y;
      break;
    default:
      fail("unsupported half-precision operation");
    }
    return fromF32(r, h, roundOf(in.mods));
  }

  static float fmax(float x, float y, bool nanProp) {
    if (std::isnan(x) || std::isnan(y)) {
      if (nanProp || (std::isnan(x) && std::isnan(y)))
        return floatOf(0x7fffffffu);
      return std::isnan(x) ? y : x;
    }
    if (x == 0 && y == 0)
      return std::signbit(x) ? y : x;
    return x > y ? x : y;
  }
  static float fmin(float x, float y, bool nanProp) {
    if (std::isnan(x) || std::isnan(y)) {
      if (nanProp || (std::isnan(x) && std::isnan(y)))
        return floatOf(0x7fffffffu);
      return std::isnan(x) ? y : x;
    }
    if (x == 0 && y == 0)
      return std::signbit(x) ? x : y;
    return x < y ? x : y;
  }

  bool compare(Cmp c, Ty t, uint64_t a, uint64_t b) {
    if (isFloat(t)) {
      double x, y;
      if (t == Ty::F64) {
        x = doubleOf(a);
        y = doubleOf(b);
      } else {
        x = toF32(a, t);
        y = toF32(b, t);
      }
      bool unord = std::isnan(x) || std::isnan(y);
      switch (c) {
      case Cmp::Eq:
        return !unord && x == y;
      case Cmp::Ne:
        return !unord && x != y;
      case Cmp::Lt:
        return !unord && x < y;
      case Cmp::Le:
        return !unord && x <= y;
      case Cmp::Gt:
        return !unord && x > y;
      case Cmp::Ge:
        return !unord && x >= y;
      case Cmp::Equ:
        return unord || x == y;
      case Cmp::Neu:
        return unord || x != y;
      case Cmp::Ltu:
        return unord || x < y;
      case Cmp::Leu:
        return unord || x <= y;
      case Cmp::Gtu:
        return unord || x > y;
      case Cmp::Geu:
        return unord || x >= y;
      case Cmp::Num:
        return !unord;
      case Cmp::Nan:
        return unord;
      default:
        fail("comparison not valid for floating point");
      }
    }
    unsigned n = sizeOf(t);
    if (isSigned(t)) {
      int64_t x = sext(a, n), y = sext(b, n);
      switch (c) {
      case Cmp::Eq:
        return x == y;
      case Cmp::Ne:
        return x != y;
      case Cmp::Lt:
        return x < y;
      case Cmp::Le:
        return x <= y;
      case Cmp::Gt:
        return x > y;
      case Cmp::Ge:
        return x >= y;
      default:
        fail("comparison not valid for signed integers");
      }
    }
    uint64_t x = zext(a, n), y = zext(b, n);
    switch (c) {
    case Cmp::Eq:
      return x == y;
    case Cmp::Ne:
      return x != y;
    case Cmp::Lt:
    case Cmp::Lo:
      return x < y;
    case Cmp::Le:
    case Cmp::Ls:
      return x <= y;
    case Cmp::Gt:
    case Cmp::Hi:
      return x > y;
    case Cmp::Ge:
    case Cmp::Hs:
      return x >= y;
    default:
      fail("comparison not valid for integers");
    }
  }

  uint64_t convert(const Inst &in, uint64_t v) {
    Ty d = in.type, s = in.type2;
    unsigned ds = sizeOf(d), ss = sizeOf(s);
    Round r = roundOf(in.mods);
    if (isFloat(s) && isFloat(d)) {
      if (s == Ty::F64) {
        double x = doubleOf(v);
        if (d == Ty::F64)
          return bitsOf(integral(in.mods, x));
        float f = rounded(in.mods, [&] { return static_cast<float>(x); });
        if (d == Ty::F32)
          return bitsOf(finishF32(in.mods, f));
        return fromF32(f, d, r); // double rounding: f64->f16 is rare
      }
      float x = toF32(v, s);
      if (in.mods & M_FTZ)
        x = flush(x);
      if (d == Ty::F64)
        return bitsOf(static_cast<double>(x));
      if (d == Ty::F32) {
        if (in.mods & (M_RNI | M_RZI | M_RMI | M_RPI))
          x = static_cast<float>(integral(in.mods, x));
        return bitsOf(finishF32(in.mods, x));
      }
      return fromF32(x, d, r);
    }
    if (isFloat(s)) { // float -> integer: round to integral, saturate
      double x = s == Ty::F64 ? doubleOf(v) : toF32(v, s);
      if (std::isnan(x))
        return 0;
      x = integral(in.mods | ((in.mods & (M_RNI | M_RZI | M_RMI | M_RPI))
                                  ? 0u
                                  : uint32_t(M_RZI)),
                   x);
      if (isSigned(d)) {
        double lo = -std::ldexp(1.0, ds * 8 - 1),
               hi = std::ldexp(1.0, ds * 8 - 1) - 1;
        int64_t iv = x <= lo ? static_cast<int64_t>(lo)
                     : x >= hi
                         ? (ds == 8 ? INT64_MAX : static_cast<int64_t>(hi))
                         : static_cast<int64_t>(x);
        return zext(static_cast<uint64_t>(iv), ds);
      }
      double hi = std::ldexp(1.0, ds * 8) - 1;
      uint64_t uv = x <= 0 ? 0
                    : x >= hi
                        ? (ds == 8 ? UINT64_MAX : static_cast<uint64_t>(hi))
                        : static_cast<uint64_t>(x);
      return uv;
    }
    if (isFloat(d)) { // integer -> float
      double x = isSigned(s) ? static_cast<double>(sext(v, ss))
                             : static_cast<double>(zext(v, ss));
      if (d == Ty::F64)
        return bitsOf(x);
      float f = rounded(in.mods, [&] {
        return isSigned(s) ? static_cast<float>(sext(v, ss))
                           : static_cast<float>(zext(v, ss));
      });
      if (d == Ty::F32)
        return bitsOf(f);
      return fromF32(f, d, r);
    }
    // integer -> integer
    int64_t sv = isSigned(s) ? sext(v, ss) : static_cast<int64_t>(zext(v, ss));
    if (in.mods & M_SAT) {
      if (isSigned(d)) {
        int64_t lo = ds == 8 ? INT64_MIN : -(int64_t(1) << (ds * 8 - 1));
        int64_t hi = ds == 8 ? INT64_MAX : (int64_t(1) << (ds * 8 - 1)) - 1;
        if (!isSigned(s) && zext(v, ss) > static_cast<uint64_t>(hi))
          sv = hi;
        sv = std::min(hi, std::max(lo, sv));
      } else {
        uint64_t hi = ds == 8 ? UINT64_MAX : (1ull << (ds * 8)) - 1;
        if (isSigned(s) && sv < 0)
          return 0;
        uint64_t uv = static_cast<uint64_t>(sv);
        return std::min(hi, uv);
      }
    }
    return zext(static_cast<uint64_t>(sv), ds);
  }

  static double integral(uint32_t mods, double x) {
    if (mods & M_RNI)
      return std::nearbyint(x); // default FE mode: ties to even
    if (mods & M_RZI)
      return std::trunc(x);
    if (mods & M_RMI)
      return std::floor(x);
    if (mods & M_RPI)
      return std::ceil(x);
    return x;
  }

  uint64_t intBinary(const Inst &in, uint64_t a, uint64_t b, uint64_t c = 0) {
    Ty t = in.type;
    unsigned n = sizeOf(t);
    bool sgn = isSigned(t);
    switch (in.op) {
    case Op::Add:
      return zext(a + b, n);
    case Op::Sub:
      return zext(a - b, n);
    case Op::Mul:
    case Op::Mad: {
      uint64_t add = in.op == Op::Mad ? c : 0;
      if (in.mods & M_WIDE) { // n-byte operands, 2n-byte result
        if (sgn)
          return zext(static_cast<uint64_t>(sext(a, n) * sext(b, n)) + add,
                      2 * n);
        return zext(zext(a, n) * zext(b, n) + add, 2 * n);
      }
      if (in.mods & M_HI) {
        uint64_t hi;
        if (n == 8) {
          if (sgn)
            hi = static_cast<uint64_t>(
                (static_cast<__int128>(static_cast<int64_t>(a)) *
                 static_cast<int64_t>(b)) >>
                64);
          else
            hi = static_cast<uint64_t>(
                (static_cast<unsigned __int128>(a) * b) >> 64);
        } else if (sgn) {
          hi = static_cast<uint64_t>((sext(a, n) * sext(b, n)) >> (n * 8));
        } else {
          hi = (zext(a, n) * zext(b, n)) >> (n * 8);
        }
        return zext(hi + add, n);
      }
      return zext(a * b + add, n);
    }
    case Op::Div:
    case Op::Rem: {
      if (zext(b, n) == 0)
        return zext(in.op == Op::Div ? ~0ull : a, n); // undefined in PTX
      if (sgn) {
        int64_t x = sext(a, n), y = sext(b, n);
        if (y == -1 && x == (n == 8 ? INT64_MIN : -(int64_t(1) << (n * 8 - 1))))
          return zext(in.op == Op::Div ? static_cast<uint64_t>(x) : 0, n);
        return zext(static_cast<uint64_t>(in.op == Op::Div ? x / y : x % y), n);
      }
      return in.op == Op::Div ? zext(a, n) / zext(b, n)
                              : zext(a, n) % zext(b, n);
    }
    case Op::Min:
      return sgn ? zext(static_cast<uint64_t>(std::min(sext(a, n), sext(b, n))),
                        n)
                 : std::min(zext(a, n), zext(b, n));
    case Op::Max:
      return sgn ? zext(static_cast<uint64_t>(std::max(sext(a, n), sext(b, n))),
                        n)
                 : std::max(zext(a, n), zext(b, n));
    case Op::And:
      return a & b;
    case Op::Or:
      return a | b;
    case Op::Xor:
      return a ^ b;
    case Op::Shl: {
      uint64_t sh = zext(b, 4);
      return sh >= n * 8 ? 0 : zext(a << sh, n);
    }
    case Op::Shr: {
      uint64_t sh = zext(b, 4);
      if (sgn) {
        int64_t x = sext(a, n);
        return zext(
            static_cast<uint64_t>(sh >= n * 8 ? (x < 0 ? -1 : 0) : x >> sh), n);
      }
      return sh >= n * 8 ? 0 : zext(a, n) >> sh;
    }
    default:
      fail("unsupported integer operation");
    }
  }

  // ----- execution ----------------------------------------------------------

  void stepWarp(Cta &cta, Warp &w) {
    curWarp_ = &w;
    uint32_t runnable = w.exists & ~w.exited & ~w.atBarrier;
    if (w.atWgmma)
      runnable = 0;
    uint32_t pc = UINT32_MAX;
    for (unsigned l = 0; l < 32; ++l)
      if (runnable >> l & 1)
        pc = std::min(pc, w.pc[l]);
    uint32_t mask = 0;
    for (unsigned l = 0; l < 32; ++l)
      if ((runnable >> l & 1) && w.pc[l] == pc)
        mask |= 1u << l;
    const Inst &in = fn_.code[pc];
    curInst_ = &in;
    ++warpInstructions_;
    // Guard: lanes whose predicate is false skip the instruction.
    uint32_t exec = mask;
    if (in.guard >= 0) {
      exec = 0;
      for (unsigned l = 0; l < 32; ++l)
        if (mask >> l & 1) {
          bool p = reg(w, in.guard, l) != 0;
          if (p != in.guardNegated)
            exec |= 1u << l;
        }
    }
    threadInstructions_ += __builtin_popcount(exec);
    for (unsigned l = 0; l < 32; ++l)
      if (mask >> l & 1)
        w.pc[l] = pc + 1;
    if (!exec && in.op != Op::Bar)
      return;
    execute(cta, w, in, exec, mask, pc);
  }

  void execute(Cta &cta, Warp &w, const Inst &in, uint32_t exec, uint32_t mask,
               uint32_t pc) {
    auto lanes = [&](auto f) {
      for (unsigned l = 0; l < 32; ++l)
        if (exec >> l & 1)
          f(l);
    };
    const std::vector<Operand> &o = in.ops;
    switch (in.op) {
    case Op::Ld: {
      unsigned es = sizeOf(in.type);
      unsigned count = in.vec;
      lanes([&](unsigned l) {
        auto [s, a] = address(cta, w, in, o[1], l);
        uint8_t buf[64] = {};
        load(cta, w, s, a, buf, es * count, l);
        for (unsigned i = 0; i < count; ++i) {
          uint64_t v = 0;
          std::memcpy(&v, buf + i * es, es);
          if (isSigned(in.type))
            v = static_cast<uint64_t>(sext(v, es));
          const Operand &d = count > 1 ? o[0].elems[i] : o[0];
          if (d.kind == Operand::Sink)
            continue;
          Ty rt = fn_.registers[d.index].type;
          write(w, d, l, v, rt);
        }
      });
      return;
    }
    case Op::St: {
      unsigned es = sizeOf(in.type);
      unsigned count = in.vec;
      lanes([&](unsigned l) {
        auto [s, a] = address(cta, w, in, o[0], l);
        uint8_t buf[64] = {};
        for (unsigned i = 0; i < count; ++i) {
          uint64_t v = read(cta, w, count > 1 ? o[1].elems[i] : o[1], l);
          std::memcpy(buf + i * es, &v, es);
        }
        store(cta, w, s, a, buf, es * count, l);
      });
      return;
    }
    case Op::Mov:
      lanes([&](unsigned l) {
        if (o[1].kind == Operand::Vec) { // pack, first element lowest
          unsigned es = sizeOf(in.type) / o[1].elems.size();
          uint64_t v = 0;
          for (size_t i = 0; i < o[1].elems.size(); ++i)
            v |= zext(read(cta, w, o[1].elems[i], l), es) << (8 * es * i);
          write(w, o[0], l, v, in.type);
        } else if (o[0].kind == Operand::Vec) { // unpack
          unsigned es = sizeOf(in.type) / o[0].elems.size();
          uint64_t v = read(cta, w, o[1], l);
          for (size_t i = 0; i < o[0].elems.size(); ++i)
            if (o[0].elems[i].kind != Operand::Sink)
              write(w, o[0].elems[i], l, zext(v >> (8 * es * i), es),
                    fn_.registers[o[0].elems[i].index].type);
        } else {
          write(w, o[0], l, read(cta, w, o[1], l), in.type);
        }
      });
      return;
    case Op::Cvta:
    case Op::CvtaTo:
      lanes([&](unsigned l) {
        uint64_t v = read(cta, w, o[1], l);
        uint64_t base = in.space == Space::Shared  ? kSharedWindow
                        : in.space == Space::Local ? kLocalWindow
                        : in.space == Space::Param ? kParamWindow
                                                   : 0;
        write(w, o[0], l, in.op == Op::Cvta ? v + base : v - base, in.type);
      });
      return;
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div:
    case Op::Rem:
    case Op::And:
    case Op::Or:
    case Op::Xor:
    case Op::Shl:
    case Op::Shr:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l), b = read(cta, w, o[2], l);
        uint64_t r;
        if (isFloat(in.type) && in.op != Op::And && in.op != Op::Or &&
            in.op != Op::Xor)
          r = floatBinary(in, a, b);
        else if (in.type == Ty::Pred)
          r = in.op == Op::And  ? (a && b)
              : in.op == Op::Or ? (a || b)
                                : ((a != 0) != (b != 0));
        else
          r = intBinary(in, a, b);
        Ty dt = in.type;
        if (in.mods & M_WIDE)
          dt = sizeOf(in.type) == 2   ? Ty::B32
               : sizeOf(in.type) == 4 ? Ty::B64
                                      : Ty::B64;
        write(w, o[0], l, r, dt);
      });
      return;
    case Op::Mad:
    case Op::Fma:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l), b = read(cta, w, o[2], l),
                 c = read(cta, w, o[3], l);
        if (isFloat(in.type)) {
          if (in.type == Ty::F64) {
            write(w, o[0], l,
                  bitsOf(rounded(in.mods,
                                 [&] {
                                   return std::fma(doubleOf(a), doubleOf(b),
                                                   doubleOf(c));
                                 })),
                  in.type);
            return;
          }
          if (in.type == Ty::F16x2 || in.type == Ty::BF16x2) {
            Ty h = in.type == Ty::F16x2 ? Ty::F16 : Ty::BF16;
            uint64_t r = 0;
            for (int half = 0; half < 2; ++half) {
              double x = toF32(a >> (16 * half) & 0xffff, h),
                     y = toF32(b >> (16 * half) & 0xffff, h),
                     z = toF32(c >> (16 * half) & 0xffff, h);
              // x*y exact in double; x*y+z rounded once to float, then to
              // the half: exact unless the float step was inexact, which
              // for half inputs only happens far below the half's precision.
              float f = static_cast<float>(std::fma(x, y, z));
              r |= fromF32(f, h, roundOf(in.mods)) << (16 * half);
            }
            write(w, o[0], l, r, in.type);
            return;
          }
          if (in.type == Ty::F16 || in.type == Ty::BF16) {
            double x = toF32(a, in.type), y = toF32(b, in.type),
                   z = toF32(c, in.type);
            float f = static_cast<float>(std::fma(x, y, z));
            write(w, o[0], l, fromF32(f, in.type, roundOf(in.mods)), in.type);
            return;
          }
          float x = floatOf(static_cast<uint32_t>(a)),
                y = floatOf(static_cast<uint32_t>(b)),
                z = floatOf(static_cast<uint32_t>(c));
          if (in.mods & M_FTZ) {
            x = flush(x);
            y = flush(y);
            z = flush(z);
          }
          float r = rounded(in.mods, [&] { return std::fma(x, y, z); });
          write(w, o[0], l, bitsOf(finishF32(in.mods, r)), in.type);
          return;
        }
        Ty dt = (in.mods & M_WIDE) ? (sizeOf(in.type) == 4 ? Ty::B64 : Ty::B32)
                                   : in.type;
        write(w, o[0], l, intBinary(in, a, b, c), dt);
      });
      return;
    case Op::Min:
    case Op::Max:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l), b = read(cta, w, o[2], l);
        uint64_t r;
        if (in.type == Ty::F32) {
          float x = floatOf(static_cast<uint32_t>(a)),
                y = floatOf(static_cast<uint32_t>(b));
          if (in.mods & M_FTZ) {
            x = flush(x);
            y = flush(y);
          }
          bool nan = in.mods & M_NAN;
          r = bitsOf(in.op == Op::Max ? fmax(x, y, nan) : fmin(x, y, nan));
        } else if (in.type == Ty::F64) {
          double x = doubleOf(a), y = doubleOf(b);
          r = bitsOf(in.op == Op::Max ? std::fmax(x, y) : std::fmin(x, y));
        } else if (isFloat(in.type)) {
          fail("unsupported type for min/max");
        } else {
          r = intBinary(in, a, b);
        }
        write(w, o[0], l, r, in.type);
      });
      return;
    case Op::Abs:
    case Op::Neg:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l);
        uint64_t r;
        unsigned n = sizeOf(in.type);
        if (in.type == Ty::F32) {
          uint32_t u = static_cast<uint32_t>(a);
          r = in.op == Op::Abs ? (u & 0x7fffffffu) : (u ^ 0x80000000u);
          if (in.mods & M_FTZ)
            r = bitsOf(flush(floatOf(static_cast<uint32_t>(r))));
        } else if (in.type == Ty::F64) {
          r = in.op == Op::Abs ? (a & 0x7fffffffffffffffull)
                               : (a ^ 0x8000000000000000ull);
        } else if (in.type == Ty::F16 || in.type == Ty::BF16) {
          r = in.op == Op::Abs ? (a & 0x7fff) : (a ^ 0x8000);
        } else {
          int64_t x = sext(a, n);
          r = zext((in.op == Op::Abs && x >= 0) ? static_cast<uint64_t>(x)
                                                : 0 - static_cast<uint64_t>(x),
                   n);
        }
        write(w, o[0], l, r, in.type);
      });
      return;
    case Op::Not:
    case Op::Cnot:
    case Op::Popc:
    case Op::Clz:
    case Op::Brev:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l);
        unsigned n = sizeOf(in.type);
        uint64_t r;
        if (in.op == Op::Not)
          r = in.type == Ty::Pred ? !a : zext(~a, n);
        else if (in.op == Op::Cnot)
          r = zext(a, n) == 0 ? 1 : 0;
        else if (in.op == Op::Popc)
          r = static_cast<uint64_t>(__builtin_popcountll(zext(a, n)));
        else if (in.op == Op::Clz)
          r = zext(a, n) == 0
                  ? n * 8
                  : static_cast<uint64_t>(__builtin_clzll(zext(a, n))) -
                        (64 - n * 8);
        else {
          r = 0;
          for (unsigned i = 0; i < n * 8; ++i)
            if (a >> i & 1)
              r |= 1ull << (n * 8 - 1 - i);
        }
        Ty dt = (in.op == Op::Popc || in.op == Op::Clz) ? Ty::U32 : in.type;
        write(w, o[0], l, r, dt);
      });
      return;
    case Op::Bfe:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l);
        unsigned pos = read(cta, w, o[2], l) & 0xff,
                 len = read(cta, w, o[3], l) & 0xff;
        unsigned n = sizeOf(in.type), bits = n * 8;
        uint64_t r = 0;
        bool sgn = isSigned(in.type);
        unsigned msb = pos + len - 1;
        bool sbit = sgn && len > 0 &&
                    ((msb >= bits) ? (a >> (bits - 1) & 1) : (a >> msb & 1));
        for (unsigned i = 0; i < bits; ++i) {
          bool bit;
          if (i < len && pos + i < bits)
            bit = a >> (pos + i) & 1;
          else
            bit = sgn ? sbit : false;
          if (len == 0)
            bit = false;
          r |= uint64_t(bit) << i;
        }
        write(w, o[0], l, r, in.type);
      });
      return;
    case Op::Bfi:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l), b = read(cta, w, o[2], l);
        unsigned pos = read(cta, w, o[3], l) & 0xff,
                 len = read(cta, w, o[4], l) & 0xff;
        unsigned bits = sizeOf(in.type) * 8;
        uint64_t r = b;
        for (unsigned i = 0; i < len && pos + i < bits; ++i) {
          uint64_t bit = a >> i & 1;
          r = (r & ~(1ull << (pos + i))) | (bit << (pos + i));
        }
        write(w, o[0], l, r, in.type);
      });
      return;
    case Op::Prmt:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l) & 0xffffffff,
                 b = read(cta, w, o[2], l) & 0xffffffff;
        uint32_t c = static_cast<uint32_t>(read(cta, w, o[3], l));
        uint64_t bytes = a | (b << 32);
        uint32_t r = 0;
        for (int i = 0; i < 4; ++i) {
          uint32_t sel = c >> (4 * i) & 0xf;
          uint32_t byte = bytes >> (8 * (sel & 7)) & 0xff;
          if (sel & 8) // replicate the sign bit
            byte = (byte & 0x80) ? 0xff : 0;
          r |= byte << (8 * i);
        }
        write(w, o[0], l, r, Ty::B32);
      });
      return;
    case Op::Selp:
      lanes([&](unsigned l) {
        bool c = read(cta, w, o[3], l) != 0;
        write(w, o[0], l, read(cta, w, c ? o[1] : o[2], l), in.type);
      });
      return;
    case Op::Setp:
    case Op::Set:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1 + ((in.mods & M_PAIR) ? 1 : 0)], l);
        uint64_t b = read(cta, w, o[2 + ((in.mods & M_PAIR) ? 1 : 0)], l);
        bool t = compare(in.cmp, in.type2, a, b);
        bool t2 = !t;
        size_t cIndex = 3 + ((in.mods & M_PAIR) ? 1 : 0);
        if (in.boolOp != BoolOp::None) {
          bool c = read(cta, w, o[cIndex], l) != 0;
          auto combine = [&](bool x) {
            return in.boolOp == BoolOp::And  ? (x && c)
                   : in.boolOp == BoolOp::Or ? (x || c)
                                             : (x != c);
          };
          t = combine(t);
          t2 = combine(t2);
        }
        if (in.op == Op::Set) {
          uint64_t v =
              isFloat(in.type) ? bitsOf(t ? 1.0f : 0.0f) : (t ? ~0ull : 0);
          write(w, o[0], l, v, in.type);
          return;
        }
        write(w, o[0], l, t, Ty::Pred);
        if (in.mods & M_PAIR)
          write(w, o[1], l, t2, Ty::Pred);
      });
      return;
    case Op::Cvt:
      lanes([&](unsigned l) {
        if (in.type == Ty::BF16x2 || in.type == Ty::F16x2) {
          Ty h = in.type == Ty::BF16x2 ? Ty::BF16 : Ty::F16;
          float a = floatOf(static_cast<uint32_t>(read(cta, w, o[1], l)));
          float b = floatOf(static_cast<uint32_t>(read(cta, w, o[2], l)));
          Round r = roundOf(in.mods);
          uint64_t v = fromF32(b, h, r) | (fromF32(a, h, r) << 16);
          write(w, o[0], l, v, Ty::B32);
          return;
        }
        uint64_t v = read(cta, w, o[1], l);
        Ty dt = in.type;
        uint64_t r = convert(in, v);
        // A narrower result written to a wider register is extended by the
        // destination type's signedness.
        Ty rt = o[0].kind == Operand::Reg ? fn_.registers[o[0].index].type : dt;
        if (sizeOf(rt) > sizeOf(dt) && isSigned(dt))
          r = static_cast<uint64_t>(sext(r, sizeOf(dt)));
        write(w, o[0], l, r, sizeOf(rt) > sizeOf(dt) ? rt : dt);
      });
      return;
    case Op::Ex2:
    case Op::Lg2:
    case Op::Rcp:
    case Op::Sqrt:
    case Op::Rsqrt:
    case Op::Sin:
    case Op::Cos:
    case Op::Tanh:
      lanes([&](unsigned l) {
        uint64_t a = read(cta, w, o[1], l);
        if (in.type == Ty::F64) {
          double x = doubleOf(a), r;
          switch (in.op) {
          case Op::Rcp:
            r = 1.0 / x;
            break;
          case Op::Sqrt:
            r = std::sqrt(x);
            break;
          case Op::Rsqrt:
            r = 1.0 / std::sqrt(x);
            break;
          default:
            fail("unsupported f64 function");
          }
          write(w, o[0], l, bitsOf(r), in.type);
          return;
        }
        if (in.type != Ty::F32)
          fail("unsupported type for a special function");
        float x = floatOf(static_cast<uint32_t>(a));
        if (in.mods & M_FTZ)
          x = flush(x);
        float r;
        // .approx results are computed to within f32 rounding, inside the
        // PTX ISA's bounds for each (ex2: 2 ulp, lg2: 2^-22 abs, rcp/sqrt/
        // rsqrt: 1-2 ulp, sin/cos: 2^-20.5 abs in [-pi, pi]).
        switch (in.op) {
        case Op::Ex2:
          r = std::exp2(x);
          break;
        case Op::Lg2:
          r = std::log2(x);
          break;
        case Op::Rcp:
          r = rounded(in.mods, [&] { return 1.0f / x; });
          break;
        case Op::Sqrt:
          r = rounded(in.mods, [&] { return std::sqrt(x); });
          break;
        case Op::Rsqrt:
          r = static_cast<float>(1.0 / std::sqrt(static_cast<double>(x)));
          break;
        case Op::Sin:
          r = std::sin(x);
          break;
        case Op::Cos:
          r = std::cos(x);
          break;
        default:
          r = std::tanh(x);
          break;
        }
        write(w, o[0], l, bitsOf(finishF32(in.mods, r)), in.type);
      });
      return;
    case Op::Shfl:
      shuffle(cta, w, in, exec);
      return;
    case Op::Vote: {
      size_t maskIndex = o.size() - 1;
      uint32_t ballot = 0;
      lanes([&](unsigned l) {
        if (read(cta, w, o[1], l))
          ballot |= 1u << l;
      });
      checkMembers(w, exec, cta, o[maskIndex], "vote.sync");
      lanes([&](unsigned l) {
        uint64_t v;
        switch (in.sub) {
        case Sub::Ballot:
          v = ballot;
          break;
        case Sub::All:
          v = (ballot & exec) == exec;
          break;
        case Sub::Any:
          v = (ballot & exec) != 0;
          break;
        default:
          v = (ballot & exec) == exec || (ballot & exec) == 0;
          break;
        }
        write(w, o[0], l, v, in.sub == Sub::Ballot ? Ty::B32 : Ty::Pred);
      });
      return;
    }
    case Op::Bar: {
      uint32_t live = w.exists & ~w.exited;
      if (opts_.checks.barriers && mask != live)
        fail("barrier divergence: bar.sync reached by lanes " +
             hexString(mask) + " of warp " + std::to_string(w.index) +
             " while lanes " + hexString(live & ~mask) + " are elsewhere");
      if (exec != mask)
        fail("a predicated-off bar.sync in part of a warp is not supported");
      // bar{.cta}.sync / barrier{.cta}.sync a{, b} and bar.arrive a, b.
      uint64_t id = o.empty() ? 0 : read(cta, w, o[0], 0);
      if (id >= 16)
        fail("barrier " + std::to_string(id) + " (a CTA has barriers 0..15)");
      uint64_t count = o.size() > 1 ? read(cta, w, o[1], 0) : 0;
      bool arrive = in.sub == Sub::BarArrive;
      if (arrive && o.size() < 2)
        fail("bar.arrive needs a thread count");
      uint32_t warpThreads = (threadsPerCta_ + 31) / 32 * 32;
      if (o.size() > 1 && (count == 0 || count % 32 || count > warpThreads))
        fail("barrier thread count " + std::to_string(count) +
             " is not a positive multiple of 32 up to the CTA's " +
             std::to_string(warpThreads));
      Cta::NamedBarrier &b = cta.barriers[id];
      if (b.arrived && b.expected != count)
        fail("barrier " + std::to_string(id) + " reached with thread count " +
             (count ? std::to_string(count) : std::string("(all)")) +
             " while its phase expects " +
             (b.expected ? std::to_string(b.expected) : std::string("all")));
      b.expected = static_cast<uint32_t>(count);
      b.arrived += 32;
      if (b.expected && b.arrived > b.expected)
        fail("barrier " + std::to_string(id) + ": " +
             std::to_string(b.arrived) + " threads arrived for a count of " +
             std::to_string(b.expected));
      if (arrive)
        return;
      w.barrierId = static_cast<unsigned>(id);
      w.atBarrier = mask;
      w.barrierPc = pc;
      for (unsigned l = 0; l < 32; ++l)
        if (mask >> l & 1)
          w.pc[l] = pc; // resumes after the release
      return;
    }
    case Op::BarWarp:
      return; // lockstep warps are always converged at this point
    case Op::Bra: {
      uint32_t target = static_cast<uint32_t>(o[0].index);
      lanes([&](unsigned l) { w.pc[l] = target; });
      return;
    }
    case Op::Ret:
    case Op::Exit:
      w.exited |= exec;
      return;
    case Op::Trap:
      fail("trap executed", __builtin_ctz(exec));
    case Op::Mma:
      mma(cta, w, in, exec);
      return;
    case Op::Ldmatrix:
      ldmatrix(cta, w, in, exec);
      return;
    case Op::Atom:
    case Op::Red:
      atomic(cta, w, in, exec);
      return;
    case Op::Redux:
      redux(cta, w, in, exec);
      return;
    case Op::Bfind:
      lanes([&](unsigned l) {
        unsigned n = sizeOf(in.type);
        uint64_t a = zext(read(cta, w, o[1], l), n);
        // Signed: the most significant bit that differs from the sign bit.
        if (isSigned(in.type) && (a >> (n * 8 - 1) & 1))
          a = zext(~a, n);
        uint64_t r = 0xffffffffu;
        if (a) {
          r = 63 - static_cast<uint64_t>(__builtin_clzll(a));
          if (in.mods & M_SHIFTAMT)
            r = n * 8 - 1 - r;
        }
        write(w, o[0], l, r, Ty::U32);
      });
      return;
    case Op::Activemask:
      lanes([&](unsigned l) { write(w, o[0], l, exec, Ty::B32); });
      return;
    case Op::Match: {
      if (o.size() < 3)
        fail("match.sync needs d, a, membermask");
      bool pair = in.mods & M_PAIR;
      const Operand &value = o[pair ? 2 : 1];
      const Operand &maskOp = o[pair ? 3 : 2];
      uint64_t v[32] = {};
      lanes([&](unsigned l) {
        v[l] = zext(read(cta, w, value, l), sizeOf(in.type));
      });
      uint32_t live = w.exists & ~w.exited;
      lanes([&](unsigned l) {
        uint32_t members = static_cast<uint32_t>(read(cta, w, maskOp, l));
        if (opts_.checks.barriers && (members & live & ~exec))
          fail("match.sync: lanes " + hexString(members & live & ~exec) +
                   " named in the member mask " + hexString(members) +
                   " do not execute it with lanes " + hexString(exec),
               l);
        uint32_t same = 0;
        for (unsigned j = 0; j < 32; ++j)
          if ((members & exec & (1u << j)) && v[j] == v[l])
            same |= 1u << j;
        uint32_t group = members & exec;
        if (in.sub == Sub::MatchAll) {
          bool all = same == group;
          write(w, o[0], l, all ? group : 0, Ty::B32);
          if (pair)
            write(w, o[1], l, all, Ty::Pred);
        } else {
          write(w, o[0], l, same, Ty::B32);
        }
      });
      return;
    }
    case Op::Wmma:
      wmma(cta, w, in, exec);
      return;
    case Op::Nanosleep:
      return; // no clocks: a functional model
    case Op::Mbarrier:
      lanes([&](unsigned l) { mbarrier(cta, w, in, l); });
      return;
    case Op::CpAsyncArrive:
      lanes([&](unsigned l) {
        // The arrive-on happens once all the thread's prior cp.asyncs have
        // completed: they complete now. Without .noinc the pending count is
        // first incremented, so the net effect on it is nil.
        cpAsyncComplete(cta, w, l, 0, /*all=*/true);
        Cta::Mbarrier &b = mbarrierAt(cta, w, in, o[0], l);
        if (in.mods & M_NOINC)
          mbarrierArrive(cta, b, 1, l);
      });
      return;
    case Op::Membar:
    case Op::Fence:
      return; // sequentially consistent memory
    case Op::ProxyFence:
      // Sequentially consistent memory: one thread's fence publishes every
      // generic write so far to the async proxy (a lenient reading: the PTX
      // ISA orders only the fencing thread's writes, which a barrier then
      // extends to the CTA, as our kernels do).
      for (SharedShadow &sh : cta.shadow)
        sh.genericSinceProxyFence = false;
      return;
    case Op::CpAsync:
      lanes([&](unsigned l) { cpAsync(cta, w, in, l); });
      return;
    case Op::CpAsyncBulk:
      if (in.sub != Sub::BulkTensor)
        return; // commit/wait_group: TMA stores complete when issued
      lanes([&](unsigned l) {
        if (in.space == Space::Shared)
          tmaLoad(cta, w, in, l);
        else
          tmaStore(cta, w, in, l);
      });
      return;
    case Op::CpAsyncCommit:
      lanes([&](unsigned l) { cpAsyncCommit(cta, w.index * 32 + l); });
      return;
    case Op::CpAsyncWait:
      lanes([&](unsigned l) {
        unsigned t = w.index * 32 + l;
        uint64_t keep = 0;
        if (in.n == 0xffff)
          cpAsyncCommit(cta, t); // wait_all: commit, then wait for all
        else
          keep = read(cta, w, o[0], l);
        cpAsyncComplete(cta, w, l, keep);
      });
      return;
    case Op::WgmmaFence:
      if (exec != (w.exists & ~w.exited))
        fail("wgmma.fence.sync.aligned executed by part of the warp");
      std::fill(w.writtenSinceFence.begin(), w.writtenSinceFence.end(), 0);
      w.lastFenceLine = in.line;
      return;
    case Op::WgmmaCommit:
    case Op::WgmmaWait:
      // A wgmma completes when its warpgroup issues it (completeWgmmas), so
      // every group is complete by the time it is committed or waited for.
      if (exec != (w.exists & ~w.exited))
        fail("wgmma commit/wait executed by part of the warp");
      return;
    case Op::Wgmma:
      if (exec != 0xffffffffu)
        fail("wgmma.mma_async.sync.aligned executed by lanes " +
             hexString(exec) + ": all 32 lanes of the warp must execute it");
      w.atWgmma = true;
      w.wgmmaPc = pc;
      for (unsigned l = 0; l < 32; ++l)
        w.pc[l] = pc; // resumes after its warpgroup completes the mma
      return;
    }
    fail("unsupported instruction");
  }

  void checkMembers(Warp &w, uint32_t exec, Cta &cta, const Operand &maskOp,
                    const char *what) {
    uint32_t members = static_cast<uint32_t>(read(cta, w, maskOp, 0));
    uint32_t live = w.exists & ~w.exited;
    if (opts_.checks.barriers && (members & live & ~exec))
      fail(std::string(what) + ": lanes " + hexString(members & live & ~exec) +
           " named in the member mask " + hexString(members) +
           " do not execute it with lanes " + hexString(exec));
  }

  void shuffle(Cta &cta, Warp &w, const Inst &in, uint32_t exec) {
    const std::vector<Operand> &o = in.ops;
    bool hasPred = in.mods & M_PAIR;
    size_t a = hasPred ? 2 : 1;
    const Operand &maskOp = o[a + 3];
    checkMembers(w, exec, cta, maskOp, "shfl.sync");
    uint64_t src[32];
    for (unsigned l = 0; l < 32; ++l)
      src[l] = (exec >> l & 1) ? read(cta, w, o[a], l) : 0;
    for (unsigned l = 0; l < 32; ++l) {
      if (!(exec >> l & 1))
        continue;
      uint32_t b = static_cast<uint32_t>(read(cta, w, o[a + 1], l)) & 0x1f;
      uint32_t c = static_cast<uint32_t>(read(cta, w, o[a + 2], l));
      uint32_t clamp = c & 0x1f, seg = (c >> 8) & 0x1f;
      uint32_t maxLane = (l & seg) | (clamp & ~seg);
      uint32_t minLane = l & seg;
      int j;
      bool ok;
      switch (in.sub) {
      case Sub::Up:
        j = static_cast<int>(l) - static_cast<int>(b);
        ok = j >= static_cast<int>(maxLane);
        break;
      case Sub::Down:
        j = static_cast<int>(l + b);
        ok = j <= static_cast<int>(maxLane);
        break;
      case Sub::Bfly:
        j = static_cast<int>(l ^ b);
        ok = j <= static_cast<int>(maxLane);
        break;
      default:
        j = static_cast<int>(minLane | (b & ~seg));
        ok = j <= static_cast<int>(maxLane);
        break;
      }
      if (!ok)
        j = static_cast<int>(l);
      if (!(exec >> j & 1))
        fail("shfl.sync reads lane " + std::to_string(j) +
                 ", which does not execute it",
             static_cast<int>(l));
      write(w, o[0], l, src[j], Ty::B32);
      if (hasPred)
        write(w, o[1], l, ok, Ty::Pred);
    }
  }

  /// mma.sync.aligned.m16n8k{8,16}.row.col with f16/bf16 inputs, f32 or f16
  /// accumulators; fragment layouts as the PTX ISA's "Matrix Fragments for
  /// mma.m16n8k16 / m16n8k8" tables give them.
  void mma(Cta &cta, Warp &w, const Inst &in, uint32_t exec) {
    uint32_t live = w.exists & ~w.exited;
    if (exec != 0xffffffffu || live != 0xffffffffu)
      fail("mma.sync.aligned executed by lanes " + hexString(exec) +
           ": all 32 lanes of the warp must execute it");
    if (in.m != 16 || in.n != 8 || (in.k != 16 && in.k != 8))
      fail("mma shape m" + std::to_string(in.m) + "n" + std::to_string(in.n) +
           "k" + std::to_string(in.k) + " is not supported");
    Ty ab = in.type2;
    if (ab != Ty::F16 && ab != Ty::BF16)
      fail(std::string("mma with ") + name(ab) + " inputs is not supported");
    bool f32Acc = in.type == Ty::F32;
    if (!f32Acc && in.type != Ty::F16)
      fail("mma accumulator type not supported");
    const std::vector<Operand> &o = in.ops;
    unsigned K = in.k;
    float A[16][16], B[16][8], C[16][8];
    auto half = [&](uint64_t regv, unsigned which) {
      return toF32((regv >> (16 * which)) & 0xffff, ab);
    };
    for (unsigned l = 0; l < 32; ++l) {
      unsigned g = l >> 2, t = l & 3;
      unsigned aRegs = K == 16 ? 4 : 2;
      for (unsigned i = 0; i < aRegs * 2; ++i) {
        uint64_t r = read(cta, w, o[1].elems[i / 2], l);
        unsigned row = g + 8 * ((i >> 1) & 1);
        unsigned col = t * 2 + (i & 1) + 8 * (i >> 2);
        A[row][col] = half(r, i & 1);
      }
      unsigned bRegs = K == 16 ? 2 : 1;
      for (unsigned i = 0; i < bRegs * 2; ++i) {
        uint64_t r = read(cta, w, o[2].elems[i / 2], l);
        unsigned row = t * 2 + (i & 1) + 8 * (i >> 1);
        B[row][g] = half(r, i & 1);
      }
      for (unsigned i = 0; i < 4; ++i) {
        unsigned row = g + 8 * (i >> 1), col = t * 2 + (i & 1);
        if (f32Acc) {
          C[row][col] =
              floatOf(static_cast<uint32_t>(read(cta, w, o[3].elems[i], l)));
        } else {
          uint64_t r = read(cta, w, o[3].elems[i / 2], l);
          C[row][col] = f16ToFloat(static_cast<uint16_t>(r >> (16 * (i & 1))));
        }
      }
    }
    float D[16][8];
    for (unsigned i = 0; i < 16; ++i)
      for (unsigned j = 0; j < 8; ++j) {
        // Products of halves are exact in double; the sum is rounded once.
        double acc = C[i][j];
        for (unsigned k = 0; k < K; ++k)
          acc += static_cast<double>(A[i][k]) * B[k][j];
        D[i][j] = static_cast<float>(acc);
      }
    for (unsigned l = 0; l < 32; ++l) {
      unsigned g = l >> 2, t = l & 3;
      if (f32Acc) {
        for (unsigned i = 0; i < 4; ++i)
          write(w, o[0].elems[i], l,
                bitsOf(D[g + 8 * (i >> 1)][t * 2 + (i & 1)]), Ty::F32);
      } else {
        for (unsigned r = 0; r < 2; ++r) {
          uint64_t lo = floatToF16(D[g + 8 * r][t * 2]);
          uint64_t hi = floatToF16(D[g + 8 * r][t * 2 + 1]);
          write(w, o[0].elems[r], l, lo | hi << 16, Ty::B32);
        }
      }
    }
  }

  /// ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16: lanes 8i..8i+7
  /// give the row addresses of matrix i; lane l receives, of each matrix,
  /// row l/4 elements 2(l%4), 2(l%4)+1 (transposed: column l/4).
  void ldmatrix(Cta &cta, Warp &w, const Inst &in, uint32_t exec) {
    if (exec != 0xffffffffu)
      fail("ldmatrix.sync.aligned must be executed by all 32 lanes");
    unsigned count = in.k ? in.k : 1;
    const std::vector<Operand> &o = in.ops;
    uint16_t rows[4][8][8];
    for (unsigned mtx = 0; mtx < count; ++mtx)
      for (unsigned r = 0; r < 8; ++r) {
        unsigned lane = mtx * 8 + r;
        auto [s, a] = address(cta, w, in, o[1], lane);
        if (s != Space::Shared)
          fail("ldmatrix row address is not in shared memory", lane);
        load(cta, w, s, a, rows[mtx][r], 16, lane);
      }
    for (unsigned l = 0; l < 32; ++l) {
      for (unsigned mtx = 0; mtx < count; ++mtx) {
        uint16_t e0, e1;
        unsigned r = l / 4, c = 2 * (l % 4);
        if (in.mods & M_TRANS) {
          e0 = rows[mtx][c][r];
          e1 = rows[mtx][c + 1][r];
        } else {
          e0 = rows[mtx][r][c];
          e1 = rows[mtx][r][c + 1];
        }
        const Operand &d = count > 1 ? o[0].elems[mtx] : o[0];
        write(w, d, l, uint64_t(e0) | uint64_t(e1) << 16, Ty::B32);
      }
    }
  }

  /// Completes every warpgroup whose four warps wait at a wgmma.mma_async;
  /// returns whether one did.
  bool completeWgmmas(Cta &cta) {
    bool any = false;
    for (size_t g = 0; g * 4 < cta.warps.size(); ++g) {
      bool waiting = false, all = true;
      for (size_t k = 0; k < 4; ++k) {
        size_t i = 4 * g + k;
        if (i < cta.warps.size() && cta.warps[i].atWgmma)
          waiting = true;
        else
          all = false;
      }
      if (!waiting)
        continue;
      if (4 * g + 3 >= cta.warps.size()) {
        curWarp_ = nullptr;
        curInst_ = &fn_.code[cta.warps[4 * g].wgmmaPc];
        fail("wgmma.mma_async needs warpgroups of 4 warps; the CTA has " +
             std::to_string(cta.warps.size()) + " warps");
      }
      if (!all)
        continue;
      uint32_t pc = cta.warps[4 * g].wgmmaPc;
      curInst_ = &fn_.code[pc];
      for (size_t k = 1; k < 4; ++k)
        if (cta.warps[4 * g + k].wgmmaPc != pc) {
          curWarp_ = &cta.warps[4 * g + k];
          fail("the warps of warpgroup " + std::to_string(g) +
               " reach different wgmma.mma_async instructions (PTX lines " +
               std::to_string(fn_.code[pc].line) + " and " +
               std::to_string(fn_.code[curWarp_->wgmmaPc].line) + ")");
        }
      wgmma(cta, g, fn_.code[pc]);
      for (size_t k = 0; k < 4; ++k) {
        Warp &w = cta.warps[4 * g + k];
        w.atWgmma = false;
        for (unsigned l = 0; l < 32; ++l)
          w.pc[l] = pc + 1;
      }
      any = true;
    }
    return any;
  }

  /// The shared-memory offset of element (r, k) of a wgmma operand described
  /// by `desc`: `r` along M (A) or N (B), `k` along K, 16-bit elements. The
  /// canonical layouts (PTX ISA, "Matrix Descriptor Format" and "Shared
  /// Memory Matrix Layout"), in 16-byte chunks, for swizzle width W = 1
  /// (none), 2, 4, 8 (32/64/128 bytes):
  ///  K-major, no swizzle: core matrices of 8 rows x 16 bytes; the one holding
  ///    (r, k) starts at (r / 8) * SBO + (k / 8) * LBO.
  ///  K-major, swizzled: rows of W chunks; row r at (r % 8) * W chunks +
  ///    (r / 8) * SBO, k contiguous within it (LBO unused).
  ///  MN-major, no swizzle: 8 contiguous elements along MN form a chunk; chunk
  ///    (r / 8) at (r / 8) * SBO, k % 8 at k % 8 chunks, k / 8 at LBO.
  ///  MN-major, swizzled: W chunks contiguous along MN, the next 8 W elements
  ///    of MN at LBO; k % 8 at (k % 8) * W chunks, k / 8 at SBO.
  /// A swizzle then XORs address bits [4, 4 + log2 W) with bits [7, 7 +
  /// log2 W) of the shared address (CuTe's Swizzle<log2 W, 4, 3>).
  static uint64_t wgmmaOffset(uint64_t desc, bool mnMajor, unsigned r,
                              unsigned k) {
    uint64_t start = (desc & 0x3fff) << 4;
    uint64_t lbo = ((desc >> 16) & 0x3fff) << 4;
    uint64_t sbo = ((desc >> 32) & 0x3fff) << 4;
    unsigned mode = unsigned(desc >> 62);     // 0 none, 1 128B, 2 64B, 3 32B
    unsigned bits = mode == 0 ? 0 : 4 - mode; // log2 W: 0, 3, 2, 1
    uint64_t width = 16u << bits;             // bytes per swizzled row
    uint64_t off;
    if (!mnMajor && mode == 0)
      off = start + (r / 8) * sbo + (k / 8) * lbo + (r % 8) * 16 + (k % 8) * 2;
    else if (!mnMajor)
      off = start + (r / 8) * sbo + (r % 8) * width + k * 2;
    else if (mode == 0)
      off = start + (r / 8) * sbo + (k / 8) * lbo + (k % 8) * 16 + (r % 8) * 2;
    else
      off = start + (r / (width / 2)) * lbo + (k / 8) * sbo + (k % 8) * width +
            (r % (width / 2)) * 2;
    if (bits) {
      uint64_t mask = ((1u << bits) - 1) << 4;
      off ^= (off >> 3) & mask;
    }
    return off;
  }

  /// One element of a shared-memory wgmma operand, as 16-bit bits, with the
  /// bounds, initialisation and proxy checks.
  uint16_t wgmmaOperand(Cta &cta, uint64_t desc, bool mnMajor, unsigned r,
                        unsigned k, const char *which) {
    uint64_t off = wgmmaOffset(desc, mnMajor, r, k);
    if (off + 2 > cta.shared.size())
      fail(std::string("wgmma operand ") + which + " reads shared offset " +
           hexString(off) + " past the CTA's " +
           std::to_string(cta.shared.size()) + " bytes (descriptor " +
           hexString(desc) + ")");
    if (!cta.shadow.empty()) {
      for (unsigned i = 0; i < 2; ++i) {
        const SharedShadow &sh = cta.shadow[off + i];
        if (opts_.checks.races && sh.asyncLine)
          fail(std::string("wgmma operand ") + which + " reads shared offset " +
               hexString(off + i) + ", the destination of the copy of PTX " +
               "line " + std::to_string(sh.asyncLine) +
               ", which has not completed");
        if (opts_.checks.uninitialized && !sh.writer)
          fail(std::string("wgmma operand ") + which +
               " reads uninitialised shared memory at offset " +
               hexString(off + i));
        if (opts_.checks.wgmma && sh.genericSinceProxyFence)
          fail(std::string("wgmma operand ") + which + " reads shared offset " +
               hexString(off + i) + ", written by thread " +
               std::to_string(sh.writer - 1) +
               " through the generic proxy with no fence.proxy.async since");
      }
    }
    uint16_t v;
    std::memcpy(&v, cta.shared.data() + off, 2);
    return v;
  }

  /// wgmma.mma_async.sync.aligned.m64nNk16.f32.{f16,bf16}: D (64 x N, f32) =
  /// A (64 x 16) * B (16 x N) [+ D], A from a descriptor or from registers, B
  /// from a descriptor, K- or MN-major, any swizzle. Warp k of the group owns
  /// rows 16k..16k+15; accumulator register 4j + x of lane l holds row
  /// 16k + l/4 + 8(x/2), column 8j + 2(l%4) + x%2.
  void wgmma(Cta &cta, size_t group, const Inst &in) {
    Warp *warps[4] = {&cta.warps[4 * group], &cta.warps[4 * group + 1],
                      &cta.warps[4 * group + 2], &cta.warps[4 * group + 3]};
    curWarp_ = warps[0];
    const std::vector<Operand> &o = in.ops;
    unsigned N = in.n;
    if (in.m != 64 || in.k != 16 || N % 8 || N < 8 || N > 256)
      fail("wgmma shape m" + std::to_string(in.m) + "n" + std::to_string(N) +
           "k" + std::to_string(in.k) + " is not supported");
    if (in.type != Ty::F32 || (in.type2 != Ty::F16 && in.type2 != Ty::BF16))
      fail("only f16/bf16 inputs with f32 accumulators are modelled");
    bool aFromRegs = o[1].kind == Operand::Vec;
    size_t expected = aFromRegs ? 7 : 8;
    if (o.size() != expected || o[0].kind != Operand::Vec ||
        o[0].elems.size() != N / 2)
      fail("wgmma operands: expected {" + std::to_string(N / 2) +
           " accumulators}, a, b-desc, scale-d, imm-scale-a, imm-scale-b" +
           (aFromRegs ? ", imm-trans-b" : ", imm-trans-a, imm-trans-b"));
    auto value = [&](const Operand &op) { return read(cta, *warps[0], op, 0); };
    bool scaleD = value(o[3]) != 0;
    double sa = static_cast<int64_t>(value(o[4])) < 0 ? -1.0 : 1.0;
    double sb = static_cast<int64_t>(value(o[5])) < 0 ? -1.0 : 1.0;
    // imm-trans-a / imm-trans-b: the operand is MN-major in shared memory.
    bool mnA = !aFromRegs && value(o[6]) != 0;
    bool mnB = value(o[aFromRegs ? 6 : 7]) != 0;
    uint64_t descB = value(o[2]), descA = aFromRegs ? 0 : value(o[1]);
    for (uint64_t d : {descA, descB})
      if ((d >> 49) & 7)
        fail("wgmma descriptor " + hexString(d) + " has base offset " +
             std::to_string((d >> 49) & 7) +
             ", which is not modelled (swizzle atoms are taken as aligned "
             "to their repeat)");
    // The wgmma.fence rule: the accumulators (and A registers) must not have
    // been written since the warp's last wgmma.fence by anything but wgmma.
    if (opts_.checks.wgmma)
      for (Warp *w : warps) {
        curWarp_ = w;
        auto check = [&](const Operand &r, const char *what) {
          if (r.kind == Operand::Reg && w->writtenSinceFence[r.index])
            fail(std::string("wgmma.fence rule: ") + what + " register " +
                 fn_.registers[r.index].name + " is written " +
                 (w->lastFenceLine ? "after the wgmma.fence of PTX line " +
                                         std::to_string(w->lastFenceLine)
                                   : std::string("with no wgmma.fence")) +
                 " and before this wgmma.mma_async");
        };
        for (const Operand &r : o[0].elems)
          check(r, "accumulator");
        if (aFromRegs)
          for (const Operand &r : o[1].elems)
            check(r, "A fragment");
      }
    float A[64][16];
    std::vector<float> B(16 * N);
    Ty h = in.type2;
    for (unsigned r = 0; r < 64; ++r)
      for (unsigned k = 0; k < 16; ++k)
        if (!aFromRegs)
          A[r][k] = toF32(wgmmaOperand(cta, descA, mnA, r, k, "A"), h);
    if (aFromRegs)
      for (unsigned wi = 0; wi < 4; ++wi)
        for (unsigned l = 0; l < 32; ++l) {
          unsigned g = l >> 2, t = l & 3;
          for (unsigned i = 0; i < 8; ++i) {
            uint64_t rv = read(cta, *warps[wi], o[1].elems[i / 2], l);
            A[16 * wi + g + 8 * ((i >> 1) & 1)]
             [2 * t + (i & 1) + 8 * (i >> 2)] =
                 toF32((rv >> (16 * (i & 1))) & 0xffff, h);
          }
        }
    for (unsigned n = 0; n < N; ++n)
      for (unsigned k = 0; k < 16; ++k)
        B[k * N + n] = toF32(wgmmaOperand(cta, descB, mnB, n, k, "B"), h);
    for (unsigned wi = 0; wi < 4; ++wi)
      for (unsigned l = 0; l < 32; ++l) {
        unsigned g = l >> 2, t = l & 3;
        for (unsigned r = 0; r < N / 2; ++r) {
          unsigned j = r / 4, x = r % 4;
          unsigned row = 16 * wi + g + 8 * (x >> 1),
                   col = 8 * j + 2 * t + x % 2;
          int32_t ri = o[0].elems[r].index;
          double acc =
              scaleD ? floatOf(static_cast<uint32_t>(reg(*warps[wi], ri, l)))
                     : 0.0;
          for (unsigned k = 0; k < 16; ++k)
            acc += sa * A[row][k] * sb * B[k * N + col];
          reg(*warps[wi], ri, l) = bitsOf(static_cast<float>(acc));
        }
      }
  }

  // ----- cp.async ------------------------------------------------------------

  /// cp.async.{ca,cg}.shared.global [dst], [src], cp-size[, src-size | p]:
  /// checked now, performed when its group is waited for (the destination is
  /// "in flight" until then).
  void cpAsync(Cta &cta, Warp &w, const Inst &in, unsigned l) {
    const std::vector<Operand> &o = in.ops;
    if (o.size() < 3 || o[0].kind != Operand::Addr ||
        o[1].kind != Operand::Addr)
      fail("cp.async needs [dst], [src], cp-size", l);
    unsigned bytes = static_cast<unsigned>(read(cta, w, o[2], l));
    if (bytes != 4 && bytes != 8 && bytes != 16)
      fail("cp.async cp-size " + std::to_string(bytes) +
               " (must be 4, 8 or 16)",
           l);
    unsigned srcSize = bytes;
    if (o.size() > 3 && o[3].kind == Operand::Reg &&
        fn_.registers[o[3].index].type == Ty::Pred)
      srcSize = read(cta, w, o[3], l) ? 0 : bytes; // ignore-src
    else if (o.size() > 3)
      srcSize = static_cast<unsigned>(read(cta, w, o[3], l));
    if (srcSize > bytes)
      fail("cp.async src-size " + std::to_string(srcSize) +
               " exceeds cp-size " + std::to_string(bytes),
           l);
    // The destination is a .shared address; the source a .global one.
    uint64_t dst = rawAddress(w, o[0], l), src = rawAddress(w, o[1], l);
    memoryAt(cta, w, Space::Shared, dst, bytes, l, true);
    if (srcSize) {
      if (opts_.checks.bounds && src % bytes)
        fail("misaligned cp.async source " + hexString(src) + " for " +
                 std::to_string(bytes) + " bytes",
             l);
      memoryAt(cta, w, Space::Global, src, srcSize, l, false);
    }
    if (!cta.shadow.empty())
      for (unsigned i = 0; i < bytes; ++i) {
        SharedShadow &sh = cta.shadow[dst + i];
        if (sh.asyncLine && opts_.checks.races)
          fail("cp.async to shared offset " + hexString(dst + i) +
                   ", already the destination of the unfinished cp.async of "
                   "PTX line " +
                   std::to_string(sh.asyncLine),
               l);
        sh.asyncLine = in.line;
      }
    cta.copies[w.index * 32 + l].push_back(
        PendingCopy{dst, src, bytes, srcSize, 0, in.line});
  }

  void cpAsyncCommit(Cta &cta, unsigned t) {
    uint64_t g = ++cta.committedGroups[t];
    for (PendingCopy &c : cta.copies[t])
      if (!c.group)
        c.group = g;
  }

  /// Completes the thread's committed groups but the `keep` most recent.
  void cpAsyncComplete(Cta &cta, Warp &w, unsigned l, uint64_t keep,
                       bool all = false) {
    unsigned t = w.index * 32 + l;
    uint64_t last = cta.committedGroups[t];
    uint64_t upTo = keep >= last ? 0 : last - keep;
    std::vector<PendingCopy> &list = cta.copies[t];
    std::vector<PendingCopy> rest;
    for (const PendingCopy &c : list) {
      if (!all && (!c.group || c.group > upTo)) {
        rest.push_back(c);
        continue;
      }
      uint8_t buf[16] = {};
      if (c.srcSize)
        std::memcpy(buf,
                    memoryAt(cta, w, Space::Global, c.src, c.srcSize, l, false),
                    c.srcSize);
      if (!cta.shadow.empty())
        for (unsigned i = 0; i < c.bytes; ++i)
          cta.shadow[c.dst + i].asyncLine = 0;
      store(cta, w, Space::Shared, c.dst, buf, c.bytes, l);
    }
    list.swap(rest);
  }

  // ----- wmma ---------------------------------------------------------------

  /// One element of a wmma fragment: register `reg` (16-bit half `half` of
  /// it for f16/bf16) holds matrix element (row, col).
  struct FragElem {
    unsigned reg, half, row, col;
  };

  /// The PTX ISA leaves wmma fragment layouts unspecified; the simulator uses
  /// the mma.sync m16n8k16 layouts, twice along N (documented in
  /// docs/simulator.md). f16 A/B fragments have 8 registers: 4..7 repeat 0..3.
  static void wmmaFragment(char matrix, Ty t, unsigned lane,
                           std::vector<FragElem> &out) {
    unsigned g = lane >> 2, q = lane & 3;
    out.clear();
    for (unsigned e = 0; e < 8; ++e) {
      unsigned i = e & 3, h = e >> 2;
      switch (matrix) {
      case 'a':
        out.push_back({e / 2, e & 1, g + 8 * ((e >> 1) & 1),
                       2 * q + (e & 1) + 8 * (e >> 2)});
        break;
      case 'b':
        out.push_back(
            {e / 2, e & 1, 2 * q + (i & 1) + 8 * (i >> 1), g + 8 * h});
        break;
      default: // c, d
        if (t == Ty::F32)
          out.push_back({e, 0, g + 8 * (i >> 1), 2 * q + (i & 1) + 8 * h});
        else
          out.push_back(
              {e / 2, e & 1, g + 8 * (i >> 1), 2 * q + (i & 1) + 8 * h});
        break;
      }
    }
  }

  static unsigned wmmaRegs(char matrix, Ty t) {
    if (matrix == 'a' || matrix == 'b')
      return t == Ty::F16 ? 8 : 4;
    return t == Ty::F32 ? 8 : 4;
  }

  void wmmaCheckVec(const Operand &v, char matrix, Ty t) {
    unsigned n = wmmaRegs(matrix, t);
    if (v.kind != Operand::Vec || v.elems.size() != n)
      fail(std::string("wmma fragment ") + matrix + " of " + name(t) +
           " needs a vector of " + std::to_string(n) + " registers");
  }

  void wmma(Cta &cta, Warp &w, const Inst &in, uint32_t exec) {
    if (exec != 0xffffffffu)
      fail("wmma.*.sync.aligned executed by lanes " + hexString(exec) +
           ": all 32 lanes of the warp must execute it");
    const std::vector<Operand> &o = in.ops;
    std::vector<FragElem> frag;
    if (in.sub == Sub::WLoad || in.sub == Sub::WStore) {
      bool isLoad = in.sub == Sub::WLoad;
      if (o.size() != 3)
        fail("wmma load/store needs a fragment, an address and a stride");
      const Operand &vec = isLoad ? o[0] : o[1];
      const Operand &addr = isLoad ? o[1] : o[0];
      wmmaCheckVec(vec, in.matrix, in.type);
      bool col = in.colLayouts & 1;
      unsigned es = sizeOf(in.type);
      for (unsigned l = 0; l < 32; ++l) {
        auto [s, base] = address(cta, w, in, addr, l);
        uint64_t ldm = zext(read(cta, w, o[2], l), 4);
        wmmaFragment(in.matrix, in.type, l, frag);
        uint64_t vals[8] = {};
        if (!isLoad)
          for (unsigned r = 0; r < vec.elems.size(); ++r)
            vals[r] = read(cta, w, vec.elems[r], l);
        for (const FragElem &f : frag) {
          uint64_t a =
              base + ((col ? f.col * ldm + f.row : f.row * ldm + f.col) * es);
          uint64_t bits = 0;
          if (isLoad) {
            load(cta, w, s, a, &bits, es, l);
            vals[f.reg] |= bits << (16 * f.half);
          } else {
            bits =
                es == 4 ? vals[f.reg] : (vals[f.reg] >> (16 * f.half)) & 0xffff;
            store(cta, w, s, a, &bits, es, l);
          }
        }
        if (isLoad) {
          if (vec.elems.size() == 8 && in.matrix != 'c')
            for (unsigned r = 0; r < 4; ++r)
              vals[r + 4] = vals[r];
          for (unsigned r = 0; r < vec.elems.size(); ++r)
            write(w, vec.elems[r], l, vals[r], Ty::B32);
        }
      }
      return;
    }
    // mma: D = A * B + C, 16 x 16 x 16.
    if (o.size() != 4)
      fail("wmma.mma needs d, a, b, c fragments");
    Ty ab = in.type2, ct = in.type3, dt = in.type;
    if ((ab != Ty::F16 && ab != Ty::BF16) || (ct != Ty::F32 && ct != Ty::F16) ||
        (dt != Ty::F32 && dt != Ty::F16) || (ab == Ty::BF16 && dt != Ty::F32))
      fail("wmma.mma types not modelled (f16/bf16 inputs, f16/f32 "
           "accumulators)");
    wmmaCheckVec(o[0], 'd', dt);
    wmmaCheckVec(o[1], 'a', ab);
    wmmaCheckVec(o[2], 'b', ab);
    wmmaCheckVec(o[3], 'c', ct);
    float A[16][16], B[16][16], C[16][16];
    auto gather = [&](const Operand &vec, char matrix, Ty t, float (*M)[16]) {
      for (unsigned l = 0; l < 32; ++l) {
        wmmaFragment(matrix, t, l, frag);
        for (const FragElem &f : frag) {
          uint64_t r = read(cta, w, vec.elems[f.reg], l);
          M[f.row][f.col] = t == Ty::F32
                                ? floatOf(static_cast<uint32_t>(r))
                                : toF32((r >> (16 * f.half)) & 0xffff, t);
        }
      }
    };
    gather(o[1], 'a', ab, A);
    gather(o[2], 'b', ab, B);
    gather(o[3], 'c', ct, C);
    float D[16][16];
    for (unsigned i = 0; i < 16; ++i)
      for (unsigned j = 0; j < 16; ++j) {
        double acc = C[i][j];
        for (unsigned k = 0; k < 16; ++k)
          acc += static_cast<double>(A[i][k]) * B[k][j];
        D[i][j] = static_cast<float>(acc);
      }
    for (unsigned l = 0; l < 32; ++l) {
      wmmaFragment('d', dt, l, frag);
      uint64_t vals[8] = {};
      for (const FragElem &f : frag)
        vals[f.reg] |= dt == Ty::F32 ? uint64_t(bitsOf(D[f.row][f.col]))
                                     : uint64_t(floatToF16(D[f.row][f.col]))
                                           << (16 * f.half);
      for (unsigned r = 0; r < o[0].elems.size(); ++r)
        write(w, o[0].elems[r], l, vals[r], Ty::B32);
    }
  }

  // ----- TMA ----------------------------------------------------------------

  /// One element of a TMA box: its index in the box, whether it lies inside
  /// the tensor, its global address and its (swizzled) shared offset.
  struct BoxElement {
    uint64_t index;
    bool inside;
    uint64_t global, shared;
  };

  /// Reads and checks the tensor map and coordinates of a TMA instruction
  /// (`mapOperand` is [map, {c0, ...}]) and the shared side's alignment, then
  /// calls `each` for every element of the box, in box-row-major order.
  template <typename Fn>
  void tmaBox(Cta &cta, Warp &w, const Inst &in, const Operand &mapOperand,
              uint64_t sharedBase, unsigned l, TensorMap &map, Fn each) {
    // The tensor map: 64-byte aligned, in param, global or const memory.
    Inst generic = in;
    generic.space = Space::Generic;
    auto [mapSpace, mapAddr] = address(cta, w, generic, mapOperand, l);
    if (mapAddr % 64)
      fail("tensor map at " + hexString(mapAddr) + " is not 64-byte aligned",
           l);
    uint8_t image[128];
    for (unsigned half = 0; half < 2; ++half)
      std::memcpy(image + 64 * half,
                  memoryAt(cta, w, mapSpace, mapAddr + 64 * half, 64, l, false),
                  64);
    std::memcpy(&map, image, sizeof map);
    if (map.magic != TensorMap::kMagic)
      fail("the tensor map at " + hexString(mapAddr) +
               " was not made by cuTensorMapEncodeTiled",
           l);
    if (mapOperand.elems.size() != map.rank || in.k != map.rank)
      fail("cp.async.bulk.tensor." + std::to_string(in.k) + "d with " +
               std::to_string(mapOperand.elems.size()) +
               " coordinates on a tensor map of rank " +
               std::to_string(map.rank),
           l);
    uint64_t repeat = map.swizzle ? 128u << map.swizzle : 128;
    if (sharedBase % repeat)
      fail("cp.async.bulk.tensor shared address " + hexString(sharedBase) +
               " is not aligned to " + std::to_string(repeat) + " bytes" +
               (map.swizzle ? " (the swizzle pattern's repeat)" : ""),
           l);
    int64_t start[5] = {};
    unsigned count[5] = {1, 1, 1, 1, 1};
    uint64_t total = 1;
    for (unsigned d = 0; d < map.rank; ++d) {
      start[d] = sext(read(cta, w, mapOperand.elems[d], l), 4);
      count[d] =
          (map.box[d] + map.elementStrides[d] - 1) / map.elementStrides[d];
      total *= count[d];
    }
    unsigned eb = map.elementBytes;
    if (sharedBase + total * eb > cta.shared.size())
      fail("cp.async.bulk.tensor's box of " + std::to_string(total * eb) +
               " bytes at shared offset " + hexString(sharedBase) +
               " runs past the CTA's " + std::to_string(cta.shared.size()) +
               " bytes",
           l);
    uint64_t mask = map.swizzle ? ((1u << map.swizzle) - 1) << 4 : 0;
    unsigned idx[5] = {};
    for (uint64_t e = 0; e < total; ++e) {
      BoxElement b{e, true, map.global, sharedBase + e * eb};
      for (unsigned d = 0; d < map.rank; ++d) {
        int64_t c = start[d] + int64_t(idx[d]) * map.elementStrides[d];
        b.inside &= c >= 0 && uint64_t(c) < map.dims[d];
        b.global += uint64_t(c) * map.strides[d];
      }
      b.shared ^= (b.shared >> 3) & mask;
      each(b);
      for (unsigned d = 0; d < map.rank && ++idx[d] == count[d]; ++d)
        idx[d] = 0;
    }
  }

  /// The value of an address operand, a generic shared address turned into
  /// its shared offset (for operands that can only be shared memory).
  uint64_t rawAddress(Warp &w, const Operand &a, unsigned l) {
    uint64_t v = a.imm;
    if (a.base >= 0)
      v += reg(w, a.base, l);
    if (a.hasSymbol)
      v += symbolValue(a);
    if (v >= kSharedWindow && v < kSharedWindow + kWindowSize)
      v -= kSharedWindow;
    return v;
  }

  /// cp.async.bulk.tensor.Nd.shared::cluster.global.tile.mbarrier::complete_tx
  /// ::bytes [dst], [map, {c0, ...}], [mbar][, cache-hint]: the box of the
  /// tensor at the coordinates (innermost first; elements outside the tensor
  /// read as zero, or NaN if the map says so) to dst, box-row-major, swizzled
  /// as the map says (CuTe's Swizzle<s, 4, 3> on the shared address). Read
  /// now; written and completed on the mbarrier when it is next polled.
  void tmaLoad(Cta &cta, Warp &w, const Inst &in, unsigned l) {
    const std::vector<Operand> &o = in.ops;
    size_t expected = (in.mods & M_CACHE_HINT) ? 4 : 3;
    if (o.size() != expected || o[0].kind != Operand::Addr ||
        o[1].kind != Operand::Addr || o[2].kind != Operand::Addr)
      fail("cp.async.bulk.tensor needs [dst], [map, {coordinates}], [mbar]" +
               std::string(expected == 4 ? ", cache-hint" : ""),
           l);
    uint64_t dst = rawAddress(w, o[0], l);
    uint64_t mbar = mbarrierOffset(cta, w, o[2], l);
    if (!cta.mbarriers.count(mbar))
      fail("cp.async.bulk.tensor completes on shared offset " +
               hexString(mbar) + ", which holds no initialised mbarrier",
           l);
    PendingBulk bulk{mbar, {}, w.index * 32 + l, in.line};
    TensorMap map;
    tmaBox(cta, w, in, o[1], dst, l, map, [&](const BoxElement &b) {
      unsigned eb = map.elementBytes;
      uint8_t value[8];
      if (b.inside)
        std::memcpy(
            value, memoryAt(cta, w, Space::Global, b.global, eb, l, false), eb);
      else
        std::memset(value, map.nanFill && map.isFloat ? 0xff : 0, eb);
      for (unsigned i = 0; i < eb; ++i)
        bulk.bytes.push_back({b.shared + i, value[i]});
    });
    if (!cta.shadow.empty())
      for (const auto &[at, v] : bulk.bytes) {
        SharedShadow &sh = cta.shadow[at];
        if (sh.asyncLine && opts_.checks.races)
          fail("cp.async.bulk.tensor to shared offset " + hexString(at) +
                   ", already the destination of the unfinished copy of PTX "
                   "line " +
                   std::to_string(sh.asyncLine),
               l);
        sh.asyncLine = in.line;
        sh.asyncBulk = true;
      }
    cta.bulkCopies.push_back(std::move(bulk));
  }

  /// cp.async.bulk.tensor.Nd.global.shared::cta.bulk_group [map, {c0, ...}],
  /// [src][, cache-hint]: the box in shared memory (box-row-major, swizzled
  /// as the map says) to the tensor; elements outside it are not written.
  /// Performed when issued, so bulk commit/wait_group have nothing left to
  /// wait for. Its shared-memory reads are the async proxy's: bytes written
  /// through the generic proxy need a fence.proxy.async first (the wgmma
  /// checker), and in-flight or never-written bytes are reported.
  void tmaStore(Cta &cta, Warp &w, const Inst &in, unsigned l) {
    const std::vector<Operand> &o = in.ops;
    size_t expected = (in.mods & M_CACHE_HINT) ? 3 : 2;
    if (o.size() != expected || o[0].kind != Operand::Addr ||
        o[1].kind != Operand::Addr)
      fail("a TMA store needs [map, {coordinates}], [src]" +
               std::string(expected == 3 ? ", cache-hint" : ""),
           l);
    uint64_t src = rawAddress(w, o[1], l);
    TensorMap map;
    tmaBox(cta, w, in, o[0], src, l, map, [&](const BoxElement &b) {
      unsigned eb = map.elementBytes;
      if (!cta.shadow.empty())
        for (unsigned i = 0; i < eb; ++i) {
          const SharedShadow &sh = cta.shadow[b.shared + i];
          std::string at =
              "TMA store reads shared offset " + hexString(b.shared + i);
          if (opts_.checks.races && sh.asyncLine)
            fail(at + ", the destination of the copy of PTX line " +
                     std::to_string(sh.asyncLine) + ", which has not completed",
                 l);
          if (opts_.checks.uninitialized && !sh.writer)
            fail(at + ", never written by this CTA", l);
          if (opts_.checks.wgmma && sh.genericSinceProxyFence)
            fail(at + ", written by thread " + std::to_string(sh.writer - 1) +
                     " through the generic proxy with no fence.proxy.async "
                     "since",
                 l);
        }
      if (b.inside)
        std::memcpy(memoryAt(cta, w, Space::Global, b.global, eb, l, true),
                    cta.shared.data() + b.shared, eb);
    });
  }

  /// Writes the TMA loads that complete on the mbarrier at `mbar` and
  /// completes their bytes on it (the async proxy: no fence is needed before
  /// wgmma reads them).
  void tmaComplete(Cta &cta, uint64_t mbar) {
    std::vector<PendingBulk> rest;
    for (PendingBulk &c : cta.bulkCopies) {
      if (c.mbarrier != mbar) {
        rest.push_back(std::move(c));
        continue;
      }
      for (const auto &[at, v] : c.bytes) {
        cta.shared[at] = v;
        if (!cta.shadow.empty()) {
          SharedShadow &sh = cta.shadow[at];
          sh.asyncLine = 0;
          sh.asyncBulk = false;
          sh.writer = c.thread + 1;
          sh.writeEpoch = cta.epoch;
          sh.genericSinceProxyFence = false;
        }
      }
      auto it = cta.mbarriers.find(mbar);
      if (it != cta.mbarriers.end()) {
        it->second.tx -= static_cast<int64_t>(c.bytes.size());
        mbarrierMaybeComplete(cta, it->second);
      }
    }
    cta.bulkCopies.swap(rest);
  }

  // ----- mbarrier -----------------------------------------------------------

  uint64_t mbarrierOffset(Cta &cta, Warp &w, const Operand &a, unsigned l) {
    if (a.kind != Operand::Addr)
      fail("mbarrier operand is not an address", l);
    uint64_t v = rawAddress(w, a, l);
    memoryAt(cta, w, Space::Shared, v, 8, l, false); // bounds, alignment
    return v;
  }

  Cta::Mbarrier &mbarrierAt(Cta &cta, Warp &w, const Inst &in, const Operand &a,
                            unsigned l) {
    uint64_t off = mbarrierOffset(cta, w, a, l);
    auto it = cta.mbarriers.find(off);
    if (it == cta.mbarriers.end())
      fail(std::string("'") + in.text + "' on shared offset " + hexString(off) +
               ", which holds no initialised mbarrier",
           l);
    return it->second;
  }

  /// A completed phase orders what its arrivals wrote before what its
  /// waiters read. The race checker models that leniently: like a bar.sync,
  /// the completion starts a new epoch for the whole CTA.
  void mbarrierMaybeComplete(Cta &cta, Cta::Mbarrier &b) {
    if (b.pending == 0 && b.tx == 0) {
      ++b.phase;
      b.pending = b.expected;
      ++cta.epoch;
    }
  }

  void mbarrierArrive(Cta &cta, Cta::Mbarrier &b, uint32_t count, unsigned l) {
    if (count > b.pending)
      fail("mbarrier arrive count " + std::to_string(count) +
               " exceeds the phase's pending count " +
               std::to_string(b.pending),
           l);
    b.pending -= count;
    mbarrierMaybeComplete(cta, b);
  }

  /// mbarrier.{init,inval,arrive[.expect_tx],arrive_drop,test_wait,try_wait,
  /// expect_tx,complete_tx}: the state token an arrive returns is the phase
  /// number it arrived on; a wait is satisfied once that phase (or, with
  /// .parity, the phase of that parity) has completed.
  void mbarrier(Cta &cta, Warp &w, const Inst &in, unsigned l) {
    const std::vector<Operand> &o = in.ops;
    auto need = [&](size_t n) {
      if (o.size() < n)
        fail(std::string("'") + in.text + "' has too few operands", l);
    };
    switch (in.sub) {
    case Sub::MInit: {
      need(2);
      uint64_t off = mbarrierOffset(cta, w, o[0], l);
      uint32_t count = static_cast<uint32_t>(read(cta, w, o[1], l));
      if (count == 0 || count > (1u << 20) - 1)
        fail("mbarrier.init count " + std::to_string(count) +
                 " outside 1..2^20-1",
             l);
      Cta::Mbarrier b;
      b.expected = b.pending = count;
      cta.mbarriers[off] = b;
      return;
    }
    case Sub::MInval:
      need(1);
      cta.mbarriers.erase(mbarrierOffset(cta, w, o[0], l));
      return;
    case Sub::MArrive:
    case Sub::MArriveDrop: {
      need(2);
      Cta::Mbarrier &b = mbarrierAt(cta, w, in, o[1], l);
      uint64_t token = b.phase;
      uint32_t count = 1;
      if (in.mods & M_EXPECT_TX) {
        need(3);
        b.tx += static_cast<int64_t>(read(cta, w, o[2], l));
      } else if (o.size() > 2) {
        count = static_cast<uint32_t>(read(cta, w, o[2], l));
      }
      if (in.sub == Sub::MArriveDrop) {
        if (count > b.expected)
          fail("mbarrier.arrive_drop below zero expected arrivals", l);
        b.expected -= count;
      }
      mbarrierArrive(cta, b, count, l);
      write(w, o[0], l, token, Ty::B64);
      return;
    }
    case Sub::MTestWait:
    case Sub::MTryWait: {
      need(3);
      tmaComplete(cta, mbarrierOffset(cta, w, o[1], l));
      Cta::Mbarrier &b = mbarrierAt(cta, w, in, o[1], l);
      uint64_t v = read(cta, w, o[2], l);
      bool done = (in.mods & M_PARITY) ? (b.phase & 1) != (v & 1) : b.phase > v;
      write(w, o[0], l, done, Ty::Pred);
      return;
    }
    case Sub::MExpectTx:
    case Sub::MCompleteTx: {
      need(2);
      Cta::Mbarrier &b = mbarrierAt(cta, w, in, o[0], l);
      int64_t bytes = static_cast<int64_t>(read(cta, w, o[1], l));
      b.tx += in.sub == Sub::MExpectTx ? bytes : -bytes;
      if (in.sub == Sub::MCompleteTx)
        mbarrierMaybeComplete(cta, b);
      return;
    }
    default:
      fail("unsupported mbarrier operation", l);
    }
  }

  /// redux.sync.{add,min,max}.{u32,s32} / {and,or,xor}.b32 d, a, membermask:
  /// each executing lane receives the reduction over the lanes of its own
  /// member mask (tiles of a warp pass different masks to one instruction).
  void redux(Cta &cta, Warp &w, const Inst &in, uint32_t exec) {
    const std::vector<Operand> &o = in.ops;
    if (o.size() != 3)
      fail("redux.sync needs d, a, membermask");
    bool sgn = isSigned(in.type);
    uint32_t live = w.exists & ~w.exited;
    uint64_t v[32] = {};
    for (unsigned l = 0; l < 32; ++l)
      if (exec >> l & 1)
        v[l] = zext(read(cta, w, o[1], l), 4);
    for (unsigned l = 0; l < 32; ++l) {
      if (!(exec >> l & 1))
        continue;
      uint32_t members = static_cast<uint32_t>(read(cta, w, o[2], l));
      if (!(members >> l & 1))
        fail("redux.sync: lane " + std::to_string(l) +
                 " is not in its own member mask " + hexString(members),
             l);
      if (opts_.checks.barriers && (members & live & ~exec))
        fail("redux.sync: lanes " + hexString(members & live & ~exec) +
                 " named in the member mask " + hexString(members) +
                 " do not execute it with lanes " + hexString(exec),
             l);
      uint64_t acc = v[l];
      for (unsigned j = 0; j < 32; ++j) {
        if (j == l || !(members & exec & (1u << j)))
          continue;
        switch (in.sub) {
        case Sub::AAdd:
          acc = zext(acc + v[j], 4);
          break;
        case Sub::AMin:
          acc = sgn ? (sext(v[j], 4) < sext(acc, 4) ? v[j] : acc)
                    : std::min(acc, v[j]);
          break;
        case Sub::AMax:
          acc = sgn ? (sext(v[j], 4) > sext(acc, 4) ? v[j] : acc)
                    : std::max(acc, v[j]);
          break;
        case Sub::AAnd:
          acc &= v[j];
          break;
        case Sub::AOr:
          acc |= v[j];
          break;
        case Sub::AXor:
          acc ^= v[j];
          break;
        default:
          fail("unsupported redux.sync operation");
        }
      }
      write(w, o[0], l, acc, Ty::B32);
    }
  }

  void atomic(Cta &cta, Warp &w, const Inst &in, uint32_t exec) {
    const std::vector<Operand> &o = in.ops;
    bool isAtom = in.op == Op::Atom;
    size_t ai = isAtom ? 1 : 0;
    Ty t = in.type;
    unsigned n = sizeOf(t);
    for (unsigned l = 0; l < 32; ++l) {
      if (!(exec >> l & 1))
        continue;
      auto [s, a] = address(cta, w, in, o[ai], l);
      uint64_t old = 0;
      // Atomics never race with each other: shared-memory atomics skip the
      // hazard checker (plain accesses are still checked against them).
      uint8_t *p = memoryAt(cta, w, s, a, n, l, true);
      if (s == Space::Shared && opts_.checks.uninitialized &&
          !cta.shadow.empty())
        for (unsigned i = 0; i < n; ++i)
          if (!cta.shadow[a + i].writer)
            fail("atomic on uninitialised shared memory at offset " +
                     hexString(a + i),
                 l);
      std::memcpy(&old, p, n);
      uint64_t b = read(cta, w, o[ai + 1], l);
      uint64_t r;
      switch (in.sub) {
      case Sub::AAdd:
        if (t == Ty::F32)
          r = bitsOf(floatOf(static_cast<uint32_t>(old)) +
                     floatOf(static_cast<uint32_t>(b)));
        else if (t == Ty::F64)
          r = bitsOf(doubleOf(old) + doubleOf(b));
        else
          r = old + b;
        break;
      case Sub::AMin:
        r = isSigned(t)
                ? static_cast<uint64_t>(std::min(sext(old, n), sext(b, n)))
                : std::min(zext(old, n), zext(b, n));
        break;
      case Sub::AMax:
        r = isSigned(t)
                ? static_cast<uint64_t>(std::max(sext(old, n), sext(b, n)))
                : std::max(zext(old, n), zext(b, n));
        break;
      case Sub::AInc:
        r = zext(old, n) >= zext(b, n) ? 0 : old + 1;
        break;
      case Sub::ADec:
        r = (zext(old, n) == 0 || zext(old, n) > zext(b, n)) ? b : old - 1;
        break;
      case Sub::AAnd:
        r = old & b;
        break;
      case Sub::AOr:
        r = old | b;
        break;
      case Sub::AXor:
        r = old ^ b;
        break;
      case Sub::AExch:
        r = b;
        break;
      case Sub::ACas: {
        uint64_t c = read(cta, w, o[ai + 2], l);
        r = zext(old, n) == zext(b, n) ? c : old;
        break;
      }
      default:
        fail("unsupported atomic operation");
      }
      std::memcpy(p, &r, n);
      if (s == Space::Shared && !cta.shadow.empty())
        for (unsigned i = 0; i < n; ++i) {
          SharedShadow &sh = cta.shadow[a + i];
          sh.writer = w.index * 32 + l + 1;
          sh.writeEpoch = cta.epoch;
          sh.genericSinceProxyFence = true;
        }
      if (isAtom)
        write(w, o[0], l, zext(old, n), t);
    }
  }
};

} // namespace

bool tessera::sim::runKernel(Device &device, const Module &module,
                             const Function &fn, Dim3 grid, Dim3 block,
                             unsigned dynShared,
                             const std::vector<uint8_t> &params,
                             const LaunchOptions &options, uint64_t globalsBase,
                             LaunchStats &stats, std::string &error) {
  (void)module;
  auto start = std::chrono::steady_clock::now();
  try {
    Interpreter interp(device, fn, grid, block, dynShared, params, options,
                       globalsBase);
    interp.run(stats);
  } catch (const SimError &e) {
    error = e.message;
    return false;
  }
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return true;
}
