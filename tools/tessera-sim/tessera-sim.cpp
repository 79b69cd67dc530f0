//===- tessera-sim.cpp - Run one PTX kernel under the simulator -----------===//
//
//   tessera-sim k.ptx --kernel=NAME --grid=X[,Y,Z] --block=X[,Y,Z]
//       [--shared=BYTES] [--arg=buf:BYTES[:zero|iota32|f32iota]]...
//       [--arg=u32:V] [--arg=u64:V] [--arg=f32:V]
//       [--print=ARG:f32|i32|u32|bf16:COUNT]... [--checks=all|none|LIST]
//       [--stats]
//
// Buffers are device allocations passed as their addresses, in argument
// order. A checker report or an unsupported instruction is printed as
// "tessera-sim: error: ..." with exit status 1. No LLVM, no MLIR.
//
//===----------------------------------------------------------------------===//
#include "tessera-sim/Numeric.h"
#include "tessera-sim/Sim.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace tessera::sim;

namespace {

int usage(const char *message) {
  std::fprintf(stderr, "tessera-sim: error: %s\n", message);
  std::fprintf(stderr,
               "usage: tessera-sim FILE.ptx --kernel=NAME --grid=X[,Y,Z] "
               "--block=X[,Y,Z] [--shared=BYTES] [--arg=buf:BYTES[:FILL]|"
               "u32:V|u64:V|f32:V]... [--print=ARG:TYPE:COUNT]... "
               "[--checks=all|none|bounds,races,uninitialized,barriers,wgmma] "
               "[--stats]\n");
  return 2;
}

bool parseDim(const std::string &s, Dim3 &d) {
  unsigned v[3] = {1, 1, 1};
  std::stringstream ss(s);
  std::string part;
  int i = 0;
  while (std::getline(ss, part, ',')) {
    if (i == 3 || part.empty())
      return false;
    char *end;
    unsigned long x = std::strtoul(part.c_str(), &end, 10);
    if (*end || x == 0)
      return false;
    v[i++] = static_cast<unsigned>(x);
  }
  d = Dim3{v[0], v[1], v[2]};
  return i > 0;
}

struct Arg {
  enum Kind { Buffer, U32, U64, F32 } kind;
  uint64_t bytes = 0;
  std::string fill = "zero";
  uint64_t address = 0;
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  float f32 = 0;
};

} // namespace

int main(int argc, char **argv) {
  std::string file, kernel, checks = "all";
  Dim3 grid, block;
  bool haveGrid = false, haveBlock = false, stats = false;
  unsigned shared = 0;
  std::vector<Arg> args;
  std::vector<std::string> prints;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *flag) -> const char * {
      size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? a.c_str() + n : nullptr;
    };
    if (const char *v = value("--kernel="))
      kernel = v;
    else if (const char *v = value("--grid=")) {
      if (!parseDim(v, grid))
        return usage("bad --grid");
      haveGrid = true;
    } else if (const char *v = value("--block=")) {
      if (!parseDim(v, block))
        return usage("bad --block");
      haveBlock = true;
    } else if (const char *v = value("--shared="))
      shared = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
    else if (const char *v = value("--checks="))
      checks = v;
    else if (a == "--stats")
      stats = true;
    else if (const char *v = value("--print="))
      prints.push_back(v);
    else if (const char *v = value("--arg=")) {
      std::string spec = v;
      Arg arg;
      size_t colon = spec.find(':');
      if (colon == std::string::npos)
        return usage("--arg needs KIND:VALUE");
      std::string kind = spec.substr(0, colon), rest = spec.substr(colon + 1);
      if (kind == "buf") {
        arg.kind = Arg::Buffer;
        size_t c2 = rest.find(':');
        arg.bytes = std::strtoull(rest.substr(0, c2).c_str(), nullptr, 10);
        if (c2 != std::string::npos)
          arg.fill = rest.substr(c2 + 1);
        if (!arg.bytes)
          return usage("a buffer needs a positive size");
        if (arg.fill != "zero" && arg.fill != "iota32" && arg.fill != "f32iota")
          return usage("buffer fill is zero, iota32 or f32iota");
      } else if (kind == "u32") {
        arg.kind = Arg::U32;
        arg.u32 = static_cast<uint32_t>(std::strtoul(rest.c_str(), nullptr, 0));
      } else if (kind == "u64") {
        arg.kind = Arg::U64;
        arg.u64 = std::strtoull(rest.c_str(), nullptr, 0);
      } else if (kind == "f32") {
        arg.kind = Arg::F32;
        arg.f32 = std::strtof(rest.c_str(), nullptr);
      } else {
        return usage("--arg kinds are buf, u32, u64, f32");
      }
      args.push_back(arg);
    } else if (a[0] == '-')
      return usage(("unknown option " + a).c_str());
    else
      file = a;
  }
  if (file.empty() || kernel.empty() || !haveGrid || !haveBlock)
    return usage("FILE, --kernel, --grid and --block are required");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "tessera-sim: error: cannot read '%s'\n",
                 file.c_str());
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();

  Device device;
  std::string error;
  std::unique_ptr<LoadedModule> module = device.load(text.str(), error);
  if (!module) {
    std::fprintf(stderr, "tessera-sim: error: %s: %s\n", file.c_str(),
                 error.c_str());
    return 1;
  }
  const Function *fn = module->kernel(kernel);
  if (!fn) {
    std::fprintf(stderr, "tessera-sim: error: no kernel '%s' in %s\n",
                 kernel.c_str(), file.c_str());
    return 1;
  }
  std::vector<const void *> params;
  for (Arg &a : args) {
    switch (a.kind) {
    case Arg::Buffer: {
      a.address = device.memory().allocate(a.bytes);
      uint8_t *p = device.memory().translate(a.address, a.bytes);
      for (uint64_t i = 0; i + 4 <= a.bytes; i += 4) {
        if (a.fill == "iota32") {
          uint32_t v = static_cast<uint32_t>(i / 4);
          std::memcpy(p + i, &v, 4);
        } else if (a.fill == "f32iota") {
          float v = static_cast<float>(i / 4);
          std::memcpy(p + i, &v, 4);
        }
      }
      params.push_back(&a.address);
      break;
    }
    case Arg::U32:
      params.push_back(&a.u32);
      break;
    case Arg::U64:
      params.push_back(&a.u64);
      break;
    case Arg::F32:
      params.push_back(&a.f32);
      break;
    }
  }
  LaunchOptions options;
  std::string checkError;
  if (!parseCheckOptions(checks, options.checks, checkError))
    return usage(checkError.c_str());
  LaunchStats st;
  if (!device.launch(*module, *fn, grid, block, shared, params, options, st,
                     error)) {
    std::fprintf(stderr, "tessera-sim: error: %s\n", error.c_str());
    return 1;
  }
  if (stats)
    std::printf("%llu warp instructions, %llu thread instructions, %.3f s\n",
                static_cast<unsigned long long>(st.warpInstructions),
                static_cast<unsigned long long>(st.threadInstructions),
                st.seconds);
  for (const std::string &p : prints) {
    std::stringstream ss(p);
    std::string index, type, count;
    std::getline(ss, index, ':');
    std::getline(ss, type, ':');
    std::getline(ss, count, ':');
    size_t ai = std::strtoul(index.c_str(), nullptr, 10);
    if (ai >= args.size() || args[ai].kind != Arg::Buffer)
      return usage("--print names a buffer argument by index");
    unsigned es = type == "bf16" ? 2 : 4;
    uint64_t n = count.empty() ? args[ai].bytes / es
                               : std::strtoull(count.c_str(), nullptr, 10);
    n = std::min<uint64_t>(n, args[ai].bytes / es);
    const uint8_t *data = device.memory().translate(args[ai].address, n * es);
    std::printf("arg%zu:", ai);
    for (uint64_t i = 0; i < n; ++i) {
      if (type == "f32") {
        float f;
        std::memcpy(&f, data + 4 * i, 4);
        std::printf(" %g", f);
      } else if (type == "bf16") {
        uint16_t h;
        std::memcpy(&h, data + 2 * i, 2);
        std::printf(" %g", bf16ToFloat(h));
      } else if (type == "i32") {
        int32_t v;
        std::memcpy(&v, data + 4 * i, 4);
        std::printf(" %d", v);
      } else {
        uint32_t v;
        std::memcpy(&v, data + 4 * i, 4);
        std::printf(" %u", v);
      }
    }
    std::printf("\n");
  }
  return 0;
}
