//===- GPURunner.cpp - Executing .tsr artifacts on a GPU ------------------===//
#include "tessera/Support/GPURunner.h"

#include "tessera-runtime/artifact.h"
#include "tessera-runtime/runtime.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace tessera;
using namespace tessera::gpu;

namespace {

bool isNumber(const std::string &s) {
  return !s.empty() && s.size() < 19 &&
         s.find_first_not_of("0123456789") == std::string::npos;
}

/// "2x?x64" or "s0x8xs1"; "?" only where `allowDynamic`.
bool parseShape(const std::string &text, std::vector<std::string> &dims,
                bool allowDynamic) {
  dims.clear();
  if (text == "scalar")
    return true;
  std::stringstream ss(text);
  std::string dim;
  while (std::getline(ss, dim, 'x')) {
    bool ok = isNumber(dim) ||
              (allowDynamic ? dim == "?" : (dim.size() > 1 && dim[0] == 's'));
    if (!ok)
      return false;
    dims.push_back(dim);
  }
  return !dims.empty();
}

/// Values of an entry's sizes for one call.
using SizeValues = std::map<std::string, int64_t>;

/// A size operand: a number or a known size.
bool valueOf(const std::string &name, const SizeValues &values, int64_t &out) {
  if (isNumber(name)) {
    out = std::stoll(name);
    return true;
  }
  auto it = values.find(name);
  if (it == values.end())
    return false;
  out = it->second;
  return true;
}

/// Takes ownership of a status; returns its message (empty for success).
std::string take(tsrt_status s) {
  std::string m = s ? tsrt_status_message(s) : "";
  tsrt_status_free(s);
  return m;
}

} // namespace

EntryABI Manifest::Entry::abi() const {
  EntryABI abi;
  abi.name = name;
  for (const Tensor &t : inputs) {
    TensorSpec spec{t.id, t.dtype, {}, {}};
    for (const std::string &d : t.dims)
      spec.shape.push_back(isNumber(d) ? std::stoll(d) : kDynamicDim);
    abi.inputs.push_back(spec);
  }
  for (const std::string &id : outputs)
    for (const Tensor &t : buffers) {
      if (t.id != id)
        continue;
      // A dim that is a size read off an input's dim is that dim.
      TensorSpec spec{t.id, t.dtype, {}, {}};
      for (const std::string &d : t.dims) {
        DimSource src;
        for (const Size &z : sizes)
          if (z.id == d && z.op == "dim")
            for (size_t i = 0; i < inputs.size(); ++i)
              if (inputs[i].id == z.a)
                src = {static_cast<int64_t>(i), std::stoll(z.b)};
        spec.shape.push_back(isNumber(d) ? std::stoll(d) : kDynamicDim);
        spec.dimSources.push_back(src);
      }
      abi.outputs.push_back(spec);
    }
  return abi;
}

bool tessera::gpu::parseManifest(const std::string &text, Manifest &out,
                                 std::string &error) {
  std::stringstream lines(text);
  std::string line;
  int number = 0;
  Manifest::Entry *entry = nullptr;
  auto fail = [&](const std::string &why) {
    error = "manifest line " + std::to_string(number) + ": " + why + " ('" +
            line + "')";
    return false;
  };
  while (std::getline(lines, line)) {
    ++number;
    std::stringstream words(line);
    std::string word;
    words >> word;
    if (word.empty())
      continue;
    if (number == 1) {
      std::string version;
      words >> version;
      if (word != "tessera-manifest" || (version != "1" && version != "2"))
        return fail("expected 'tessera-manifest 1' or 'tessera-manifest 2'");
      continue;
    }
    if (word == "entry") {
      out.entries.emplace_back();
      entry = &out.entries.back();
      words >> entry->name;
      continue;
    }
    if (!entry)
      return fail("outside an entry");
    if (word == "input" || word == "buffer") {
      Manifest::Tensor t;
      std::string dtype, shape;
      words >> t.id >> dtype >> shape;
      std::optional<DType> d = parseDType(dtype);
      if (!d || !parseShape(shape, t.dims, word == "input"))
        return fail("bad dtype or shape");
      t.dtype = *d;
      (word == "input" ? entry->inputs : entry->buffers).push_back(t);
    } else if (word == "const") {
      Manifest::Constant c;
      std::string dtype, shape;
      words >> c.tensor.id >> dtype >> shape;
      std::optional<DType> d = parseDType(dtype);
      if (!d || !parseShape(shape, c.tensor.dims, false))
        return fail("bad dtype or shape");
      c.tensor.dtype = *d;
      size_t n = 1;
      for (const std::string &dim : c.tensor.dims)
        n *= std::stoull(dim);
      int64_t v;
      while (words >> v)
        c.values.push_back(v);
      if (c.values.size() != n)
        return fail("a constant needs " + std::to_string(n) + " values");
      entry->constants.push_back(std::move(c));
    } else if (word == "size") {
      Manifest::Size z;
      words >> z.id >> z.op >> z.a >> z.b;
      static const char *ops[] = {"dim", "add", "sub", "mul",
                                  "div", "min", "max"};
      if (!words || z.id.size() < 2 || z.id[0] != 's' ||
          std::find(std::begin(ops), std::end(ops), z.op) == std::end(ops))
        return fail("expected 'size sN dim T AXIS' or 'size sN OP A B'");
      entry->sizes.push_back(z);
    } else if (word == "check" || word == "checkge") {
      Manifest::Check c;
      c.atLeast = word == "checkge";
      words >> c.a >> c.b;
      std::getline(words, c.message);
      if (c.a.empty() || c.b.empty())
        return fail("expected 'check A B MESSAGE'");
      c.message.erase(0, c.message.find_first_not_of(' '));
      entry->checks.push_back(c);
    } else if (word == "launch") {
      Manifest::Launch l;
      std::string g, b, s, a;
      words >> l.kernel >> g >> l.grid[0] >> l.grid[1] >> l.grid[2] >> b >>
          l.block[0] >> l.block[1] >> l.block[2] >> s >> l.sharedBytes >> a;
      if (!words || g != "grid" || b != "block" || s != "smem" || a != "args")
        return fail(
            "expected 'launch K grid X Y Z block X Y Z smem N args ...'");
      std::string arg;
      while (words >> arg)
        l.args.push_back(arg);
      entry->launches.push_back(l);
    } else if (word == "output") {
      std::string id;
      words >> id;
      entry->outputs.push_back(id);
    } else if (word == "end") {
      entry = nullptr;
    } else {
      return fail("unknown directive '" + word + "'");
    }
  }
  if (entry)
    return fail("entry '" + entry->name + "' has no 'end'");
  return true;
}

struct Runner::Impl {
  tsrt_artifact artifact = nullptr;
  tsrt_runtime runtime = nullptr;
  tsrt_module module = nullptr;
  Manifest manifest;
  std::string device, image;
  int capability = 0;

  ~Impl() {
    tsrt_module_unload(module);
    tsrt_runtime_destroy(runtime);
    tsrt_artifact_free(artifact);
  }
};

Runner::Runner(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Runner::~Runner() = default;
const Manifest &Runner::manifest() const { return impl->manifest; }

std::string Runner::describeDevice() const {
  return impl->device + " (sm_" + std::to_string(impl->capability) +
         ", image " + impl->image + ")";
}

std::unique_ptr<Runner> Runner::open(const std::string &path, int ordinal,
                                     std::string &error) {
  auto impl = std::make_unique<Impl>();
  if (!(error = take(tsrt_artifact_read_file(path.c_str(), &impl->artifact)))
           .empty())
    return nullptr;
  if (!parseManifest(tsrt_artifact_manifest(impl->artifact), impl->manifest,
                     error))
    return nullptr;
  if (!(error = take(tsrt_runtime_create(ordinal, &impl->runtime))).empty())
    return nullptr;
  char name[256];
  if (!(error = take(tsrt_device_info(impl->runtime, name, sizeof(name),
                                      &impl->capability)))
           .empty())
    return nullptr;
  impl->device = name;
  // The image for this device: its exact target (sm_90a first on sm_90), else
  // the newest PTX for an older target, which the driver's JIT compiles for
  // this device. A cubin for the exact target loads without JIT compilation, so
  // it ranks first.
  std::string exact = "sm_" + std::to_string(impl->capability);
  // Every usable image, best first; if one fails to load (a cubin the
  // driver cannot take, e.g. on the simulator, which runs PTX only), the next
  // is tried; if none loads, every failure is reported.
  std::vector<std::pair<size_t, size_t>> ranked; // score, index
  for (size_t i = 0; i < tsrt_artifact_num_images(impl->artifact); ++i) {
    const char *target;
    tsrt_image_format format;
    const void *data;
    size_t size;
    tsrt_status_free(
        tsrt_artifact_image(impl->artifact, i, &target, &format, &data, &size));
    std::string t = target;
    size_t cap = static_cast<size_t>(std::atoi(t.c_str() + 3));
    bool exactMatch = t == exact || t == exact + "a";
    bool usable = exactMatch || (format == TSRT_IMAGE_PTX &&
                                 cap <= static_cast<size_t>(impl->capability) &&
                                 t.back() != 'a');
    size_t score =
        4 * cap + (exactMatch ? 2 : 0) + (format == TSRT_IMAGE_CUBIN ? 1 : 0);
    if (usable)
      ranked.push_back({score, i});
  }
  if (ranked.empty()) {
    error = "'" + path + "' has no image this device (" + exact + ") can load";
    return nullptr;
  }
  std::sort(ranked.begin(), ranked.end(),
            [](const auto &a, const auto &b) { return a.first > b.first; });
  std::vector<std::string> failures; // "sm_90 cubin: <status>"
  for (const auto &entry : ranked) {
    const char *target;
    tsrt_image_format format;
    const void *data;
    size_t size;
    tsrt_status_free(tsrt_artifact_image(impl->artifact, entry.second, &target,
                                         &format, &data, &size));
    std::string image =
        std::string(target) + (format == TSRT_IMAGE_CUBIN ? " cubin" : " ptx");
    tsrt_status s =
        format == TSRT_IMAGE_PTX
            ? tsrt_module_load_ptx(impl->runtime,
                                   static_cast<const char *>(data), size,
                                   &impl->module)
            : tsrt_module_load_image(impl->runtime, data, size, &impl->module);
    std::string loadError = take(s);
    if (loadError.empty()) {
      impl->image = image;
      break;
    }
    failures.push_back(image + ": " + loadError);
  }
  if (!impl->module) {
    if (ranked.size() == 1) {
      error = failures.front().substr(failures.front().find(": ") + 2);
    } else {
      error = "no image loads";
      for (size_t i = 0; i < failures.size(); ++i)
        error += (i ? "; " : ": ") + failures[i];
    }
    return nullptr;
  }
  return std::unique_ptr<Runner>(new Runner(std::move(impl)));
}

bool Runner::run(const std::string &name, const std::vector<HostTensor> &inputs,
                 std::vector<HostTensor> &outputs, std::string &error,
                 int repeat, std::vector<float> *milliseconds) {
  const Manifest::Entry *entry = nullptr;
  for (const Manifest::Entry &e : impl->manifest.entries)
    if (e.name == name)
      entry = &e;
  if (!entry) {
    error = "no entry @" + name + " in the artifact";
    return false;
  }
  if (inputs.size() != entry->inputs.size()) {
    error = "entry @" + name + " takes " +
            std::to_string(entry->inputs.size()) + " inputs";
    return false;
  }
  // Device buffers for the inputs and the entry's own buffers, by id.
  std::map<std::string, tsrt_buffer> buffers;
  auto release = [&] {
    for (auto &[id, buffer] : buffers)
      tsrt_buffer_free(buffer);
  };
  auto allocate = [&](const std::string &id, size_t bytes) {
    tsrt_buffer buffer = nullptr;
    error = take(tsrt_buffer_alloc(impl->runtime, bytes ? bytes : 1, &buffer));
    if (error.empty())
      buffers[id] = buffer;
    return error.empty();
  };
  // The call's sizes: the inputs' shapes (static dims must match), then each
  // `size` in order, then the checks, then every buffer's shape.
  EntryABI abi = entry->abi();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec &spec = abi.inputs[i];
    bool ok = inputs[i].dtype() == spec.dtype &&
              inputs[i].shape().size() == spec.shape.size();
    for (size_t d = 0; ok && d < spec.shape.size(); ++d)
      ok =
          spec.shape[d] == kDynamicDim || spec.shape[d] == inputs[i].shape()[d];
    if (!ok) {
      error = "input #" + std::to_string(i) + " does not match " + spec.str();
      return false;
    }
    shapes[spec.name] = inputs[i].shape();
  }
  // Constants have their shapes in the manifest.
  for (const Manifest::Constant &c : entry->constants) {
    std::vector<int64_t> shape;
    for (const std::string &d : c.tensor.dims)
      shape.push_back(std::stoll(d));
    shapes[c.tensor.id] = shape;
  }
  SizeValues values;
  for (const Manifest::Size &z : entry->sizes) {
    int64_t a = 0, b = 0, v = 0;
    if (z.op == "dim") {
      // A buffer's dim is its declared size (a number or an earlier size).
      bool fromBuffer = false;
      for (const Manifest::Tensor &t : entry->buffers)
        if (t.id == z.a && isNumber(z.b) && std::stoull(z.b) < t.dims.size())
          fromBuffer = valueOf(t.dims[std::stoull(z.b)], values, v);
      if (fromBuffer) {
        values[z.id] = v;
        continue;
      }
      auto it = shapes.find(z.a);
      if (it == shapes.end() || !isNumber(z.b) ||
          std::stoull(z.b) >= it->second.size()) {
        error = "size " + z.id + " reads a dim of '" + z.a +
                "', which is not an input, constant or buffer of that rank";
        return false;
      }
      v = it->second[std::stoull(z.b)];
    } else {
      if (!valueOf(z.a, values, a) || !valueOf(z.b, values, b)) {
        error = "size " + z.id + " uses an undefined size";
        return false;
      }
      v = z.op == "add"   ? a + b
          : z.op == "sub" ? a - b
          : z.op == "mul" ? a * b
          : z.op == "div" ? (b ? a / b : 0)
          : z.op == "min" ? std::min(a, b)
                          : std::max(a, b);
    }
    values[z.id] = v;
  }
  for (const Manifest::Check &c : entry->checks) {
    int64_t a = 0, b = 0;
    if (!valueOf(c.a, values, a) || !valueOf(c.b, values, b)) {
      error = "a check uses an undefined size";
      return false;
    }
    if (c.atLeast ? a < b : a != b) {
      error = c.message + " (got " + std::to_string(a) + ", expected " +
              std::to_string(b) + ")";
      return false;
    }
  }
  std::map<std::string, std::vector<int64_t>> bufferShapes;
  for (const Manifest::Tensor &t : entry->buffers) {
    std::vector<int64_t> shape;
    for (const std::string &d : t.dims) {
      int64_t v = 0;
      if (!valueOf(d, values, v) || v < 0) {
        error = "buffer " + t.id + " has an undefined or negative size " + d;
        return false;
      }
      shape.push_back(v);
    }
    bufferShapes[t.id] = shape;
  }

  for (size_t i = 0; i < inputs.size(); ++i) {
    const Manifest::Tensor &t = entry->inputs[i];
    if (!allocate(t.id, inputs[i].numBytes()) ||
        !(error = take(tsrt_buffer_upload(buffers[t.id], inputs[i].data(),
                                          inputs[i].numBytes())))
             .empty()) {
      release();
      return false;
    }
  }
  for (const Manifest::Constant &c : entry->constants) {
    // Narrowed to the element type (little-endian: the low bytes) and
    // uploaded once per call.
    std::vector<int64_t> shape;
    for (const std::string &d : c.tensor.dims)
      shape.push_back(std::stoll(d));
    HostTensor host(c.tensor.dtype, shape);
    size_t w = dtypeSize(c.tensor.dtype);
    for (size_t i = 0; i < c.values.size(); ++i)
      std::memcpy(static_cast<uint8_t *>(host.data()) + i * w, &c.values[i], w);
    if (!allocate(c.tensor.id, host.numBytes()) ||
        !(error = take(tsrt_buffer_upload(buffers[c.tensor.id], host.data(),
                                          host.numBytes())))
             .empty()) {
      release();
      return false;
    }
  }
  for (const Manifest::Tensor &t : entry->buffers)
    if (!allocate(
            t.id,
            TensorSpec{t.id, t.dtype, bufferShapes[t.id], {}}.numBytes())) {
      release();
      return false;
    }
  std::vector<tsrt_kernel> kernels;
  for (const Manifest::Launch &l : entry->launches) {
    tsrt_kernel k = nullptr;
    if (!(error =
              take(tsrt_module_get_kernel(impl->module, l.kernel.c_str(), &k)))
             .empty()) {
      release();
      return false;
    }
    kernels.push_back(k);
  }
  tsrt_timer timer = nullptr;
  if (milliseconds &&
      !(error = take(tsrt_timer_create(impl->runtime, &timer))).empty()) {
    release();
    return false;
  }
  for (int r = 0; r < repeat && error.empty(); ++r) {
    if (timer)
      error = take(tsrt_timer_start(timer, nullptr));
    for (size_t i = 0; i < entry->launches.size() && error.empty(); ++i) {
      const Manifest::Launch &l = entry->launches[i];
      std::vector<tsrt_arg> args;
      for (const std::string &id : l.args) {
        tsrt_arg a;
        int64_t v = 0;
        if (auto it = buffers.find(id); it != buffers.end()) {
          a.kind = TSRT_ARG_BUFFER;
          a.value.buffer = it->second;
        } else if (valueOf(id, values, v)) {
          a.kind = TSRT_ARG_I64; // a run-time size (an index argument)
          a.value.i64 = v;
        } else {
          error = "launch of " + l.kernel + " names unknown buffer or size '" +
                  id + "'";
          break;
        }
        args.push_back(a);
      }
      int64_t grid[3] = {0, 0, 0};
      for (int d = 0; d < 3 && error.empty(); ++d)
        if (!valueOf(l.grid[d], values, grid[d]) || grid[d] < 0 ||
            grid[d] > 0x7fffffff)
          error = "launch of " + l.kernel + " has a bad grid size '" +
                  l.grid[d] + "'";
      // An empty grid (no query rows, an empty batch) launches nothing.
      if (error.empty() && (!grid[0] || !grid[1] || !grid[2]))
        continue;
      tsrt_launch_config config = {{static_cast<uint32_t>(grid[0]),
                                    static_cast<uint32_t>(grid[1]),
                                    static_cast<uint32_t>(grid[2])},
                                   {l.block[0], l.block[1], l.block[2]},
                                   l.sharedBytes};
      if (error.empty())
        error = take(tsrt_launch(kernels[i], &config, args.data(), args.size(),
                                 nullptr));
    }
    if (timer && error.empty()) {
      float ms = 0;
      error = take(tsrt_timer_stop(timer, nullptr));
      if (error.empty())
        error = take(tsrt_timer_elapsed_ms(timer, &ms));
      milliseconds->push_back(ms);
    }
  }
  if (error.empty())
    error = take(tsrt_stream_synchronize(impl->runtime, nullptr));
  outputs.clear();
  for (const std::string &id : entry->outputs) {
    if (!error.empty())
      break;
    for (const Manifest::Tensor &t : entry->buffers)
      if (t.id == id) {
        outputs.emplace_back(t.dtype, bufferShapes[t.id]);
        error = take(tsrt_buffer_download(buffers[id], outputs.back().data(),
                                          outputs.back().numBytes()));
      }
  }
  tsrt_timer_destroy(timer);
  release();
  return error.empty();
}

bool tessera::gpu::useSimulatorDriver(std::string &error) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    error = "cannot locate the running tool (readlink /proc/self/exe failed)";
    return false;
  }
  exe[n] = '\0';
  std::string dir(exe);
  dir = dir.substr(0, dir.rfind('/'));
  std::string candidates[] = {dir + "/../lib/libtessera_sim_cuda.so",
                              dir + "/libtessera_sim_cuda.so"};
  for (const std::string &path : candidates)
    if (access(path.c_str(), R_OK) == 0) {
      setenv("TSRT_CUDA_DRIVER", path.c_str(), 1);
      return true;
    }
  error = "--device=sim needs libtessera_sim_cuda.so in " + dir + "/../lib";
  return false;
}
