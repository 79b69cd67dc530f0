//===- Device.cpp - The simulated device: memory, modules, launches -------===//
#include "Ptx.h"
#include "tessera-sim/Sim.h"

#include <cstdio>
#include <cstring>

using namespace tessera::sim;

namespace {
/// Device addresses start high and grow; each allocation is followed by an
/// unmapped gap of at least 4 KiB, so an overrun never reaches a neighbour.
constexpr uint64_t kFirstAddress = 0x0000'7f00'0000'0000ull;
constexpr uint64_t kGap = 4096;
constexpr uint64_t kAlign = 256;

} // namespace

Memory::Memory() : next_(kFirstAddress) {}
Memory::~Memory() = default;

uint64_t Memory::allocate(size_t bytes) {
  uint64_t base = next_;
  Allocation a;
  a.base = base;
  a.data.assign(bytes, 0);
  allocations_.emplace(base, std::move(a));
  next_ = (base + bytes + kGap + kAlign - 1) / kAlign * kAlign;
  return base;
}

bool Memory::free(uint64_t address) { return allocations_.erase(address) > 0; }

uint8_t *Memory::translate(uint64_t address, size_t bytes) {
  auto it = allocations_.upper_bound(address);
  if (it == allocations_.begin())
    return nullptr;
  --it;
  Allocation &a = it->second;
  if (address < a.base || address - a.base + bytes > a.data.size() ||
      address + bytes < address)
    return nullptr;
  return a.data.data() + (address - a.base);
}

std::string Memory::describe(uint64_t address, size_t bytes) const {
  auto it = allocations_.upper_bound(address);
  std::string nearest;
  if (it != allocations_.begin()) {
    auto prev = std::prev(it);
    const Allocation &a = prev->second;
    uint64_t end = a.base + a.data.size();
    if (address >= a.base && address < end)
      return std::to_string(address + bytes - end) +
             " bytes past the end of a " + std::to_string(a.data.size()) +
             "-byte allocation at " + hexString(a.base);
    nearest = (address == end ? std::string("just past")
                              : std::to_string(address - end) + " bytes past") +
              " the end of a " + std::to_string(a.data.size()) +
              "-byte allocation at " + hexString(a.base);
  }
  if (it != allocations_.end()) {
    std::string before = std::to_string(it->first - address) +
                         " bytes before an allocation at " +
                         hexString(it->first);
    nearest = nearest.empty() ? before : nearest + "; " + before;
  }
  return nearest.empty() ? "no allocation is live" : nearest;
}

bool tessera::sim::encodeTensorMapTiled(
    TensorMap &out, unsigned dataType, unsigned rank, uint64_t global,
    const uint64_t *dims, const uint64_t *strides, const uint32_t *box,
    const uint32_t *elementStrides, unsigned interleave, unsigned swizzle,
    unsigned oobFill, std::string &error) {
  // CUtensorMapDataType: uint8, uint16, uint32, int32, uint64, int64, f16,
  // f32, f64, bf16, f32 (ftz), tf32, tf32 (ftz).
  static const uint8_t bytes[] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4};
  auto bad = [&](const std::string &why) {
    error = "cuTensorMapEncodeTiled: " + why;
    return false;
  };
  if (dataType >= sizeof(bytes))
    return bad("data type " + std::to_string(dataType) + " is not modelled");
  if (rank < 1 || rank > 5)
    return bad("rank " + std::to_string(rank) + " outside 1..5");
  if (interleave != 0)
    return bad("interleaved layouts are not modelled");
  if (swizzle > 3)
    return bad("swizzle mode " + std::to_string(swizzle) +
               " is not modelled (none, 32B, 64B, 128B are)");
  if (oobFill > 1)
    return bad("out-of-bounds fill " + std::to_string(oobFill) + " unknown");
  if (global % 16)
    return bad("global address " + hexString(global) +
               " is not 16-byte aligned");
  TensorMap m;
  m.magic = TensorMap::kMagic;
  m.rank = uint8_t(rank);
  m.elementBytes = bytes[dataType];
  m.isFloat = dataType >= 6;
  m.swizzle = uint8_t(swizzle);
  m.nanFill = uint8_t(oobFill);
  m.global = global;
  m.strides[0] = m.elementBytes;
  for (unsigned d = 0; d < rank; ++d) {
    std::string dim = " of dimension " + std::to_string(d);
    if (dims[d] == 0 || dims[d] > (1ull << 32))
      return bad("size " + std::to_string(dims[d]) + dim + " outside 1..2^32");
    if (box[d] == 0 || box[d] > 256)
      return bad("box size " + std::to_string(box[d]) + dim +
                 " outside 1..256");
    if (elementStrides[d] == 0 || elementStrides[d] > 8)
      return bad("element stride " + std::to_string(elementStrides[d]) + dim +
                 " outside 1..8");
    if (d > 0) {
      if (strides[d - 1] % 16 || strides[d - 1] >= (1ull << 40))
        return bad("byte stride " + std::to_string(strides[d - 1]) + dim +
                   " is not a multiple of 16 below 2^40");
      m.strides[d] = strides[d - 1];
    }
    m.dims[d] = dims[d];
    m.box[d] = box[d];
    m.elementStrides[d] = uint8_t(elementStrides[d]);
  }
  uint64_t inner = uint64_t(box[0]) * m.elementBytes;
  if (inner % 16)
    return bad("the box's inner extent (" + std::to_string(inner) +
               " bytes) is not a multiple of 16 bytes");
  if (swizzle && inner > (16u << swizzle))
    return bad("the box's inner extent (" + std::to_string(inner) +
               " bytes) exceeds the swizzle span of " +
               std::to_string(16u << swizzle) + " bytes");
  out = m;
  return true;
}

LoadedModule::~LoadedModule() = default;

const Function *LoadedModule::kernel(const std::string &name) const {
  const Function *f = module_->find(name);
  return f && f->isEntry && !f->code.empty() ? f : nullptr;
}

Device::Device(int computeCapability) : computeCapability_(computeCapability) {}
Device::~Device() = default;

std::unique_ptr<LoadedModule> Device::load(const std::string &ptx,
                                           std::string &error) {
  std::unique_ptr<Module> m = parsePtx(ptx, error);
  if (!m)
    return nullptr;
  auto loaded = std::unique_ptr<LoadedModule>(new LoadedModule());
  uint64_t bytes = 0;
  for (const Variable &v : m->globals)
    bytes = std::max(bytes, v.offset + v.size);
  if (bytes) {
    loaded->globalsBase_ = memory_.allocate(bytes);
    for (const Variable &v : m->globals)
      if (!v.init.empty())
        std::memcpy(memory_.translate(loaded->globalsBase_ + v.offset, v.size),
                    v.init.data(), v.init.size());
  }
  loaded->module_ = std::move(m);
  return loaded;
}

bool Device::launch(const LoadedModule &module, const Function &kernel,
                    Dim3 grid, Dim3 block, unsigned dynamicSharedBytes,
                    const std::vector<const void *> &params,
                    const LaunchOptions &options, LaunchStats &stats,
                    std::string &error) {
  std::string where = "kernel '" + kernel.name + "': ";
  if (params.size() != kernel.params.size()) {
    error = where + "takes " + std::to_string(kernel.params.size()) +
            " parameters, the launch passes " + std::to_string(params.size());
    return false;
  }
  if (grid.count() == 0 || block.count() == 0) {
    error = where + "empty grid or block";
    return false;
  }
  if (block.count() > 1024) {
    error = where + "a CTA of " + std::to_string(block.count()) +
            " threads exceeds 1024";
    return false;
  }
  const unsigned *limit = kernel.reqntid[0] ? kernel.reqntid : kernel.maxntid;
  if (limit[0]) {
    uint64_t most =
        uint64_t(limit[0]) * std::max(1u, limit[1]) * std::max(1u, limit[2]);
    bool exact = kernel.reqntid[0] != 0;
    if ((exact && (block.x != limit[0] || block.y != std::max(1u, limit[1]) ||
                   block.z != std::max(1u, limit[2]))) ||
        block.count() > most) {
      error = where + "block (" + std::to_string(block.x) + "," +
              std::to_string(block.y) + "," + std::to_string(block.z) +
              ") violates its " + (exact ? ".reqntid" : ".maxntid") + " " +
              std::to_string(limit[0]) + "," + std::to_string(limit[1]) + "," +
              std::to_string(limit[2]);
      return false;
    }
  }
  std::vector<uint8_t> bytes(kernel.paramBytes, 0);
  for (size_t i = 0; i < params.size(); ++i)
    std::memcpy(bytes.data() + kernel.params[i].offset, params[i],
                kernel.params[i].size);
  return runKernel(*this, module.module(), kernel, grid, block,
                   dynamicSharedBytes, bytes, options, module.globalsBase_,
                   stats, error);
}

bool tessera::sim::parseCheckOptions(const std::string &spec, CheckOptions &out,
                                     std::string &error) {
  out = CheckOptions();
  if (spec.empty() || spec == "all")
    return true;
  out = CheckOptions{false, false, false, false, false};
  if (spec == "none")
    return true;
  size_t start = 0;
  while (true) {
    size_t end = spec.find(',', start);
    std::string item = spec.substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    if (item == "bounds")
      out.bounds = true;
    else if (item == "races")
      out.races = true;
    else if (item == "uninitialized")
      out.uninitialized = true;
    else if (item == "barriers")
      out.barriers = true;
    else if (item == "wgmma")
      out.wgmma = true;
    else {
      error =
          "unknown checker '" + item +
          "' (expected all, none or bounds,races,uninitialized,barriers,wgmma)";
      return false;
    }
    if (end == std::string::npos)
      return true;
    start = end + 1;
  }
}
