//===- GPURunner.cpp - Executing .tsr artifacts on a GPU ------------------===//
#include "tessera/Support/GPURunner.h"

#include "tessera-runtime/artifact.h"
#include "tessera-runtime/runtime.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace tessera;
using namespace tessera::gpu;

namespace {

bool parseShape(const std::string &text, std::vector<int64_t> &shape) {
  shape.clear();
  if (text == "scalar")
    return true;
  std::stringstream ss(text);
  std::string dim;
  while (std::getline(ss, dim, 'x')) {
    if (dim.empty() || dim.find_first_not_of("0123456789") != std::string::npos)
      return false;
    shape.push_back(std::stoll(dim));
  }
  return !shape.empty();
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
  for (const Tensor &t : inputs)
    abi.inputs.push_back({t.id, t.dtype, t.shape});
  for (const std::string &id : outputs)
    for (const Tensor &t : buffers)
      if (t.id == id)
        abi.outputs.push_back({t.id, t.dtype, t.shape});
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
      if (word != "tessera-manifest" || version != "1")
        return fail("expected 'tessera-manifest 1'");
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
      if (!d || !parseShape(shape, t.shape))
        return fail("bad dtype or shape");
      t.dtype = *d;
      (word == "input" ? entry->inputs : entry->buffers).push_back(t);
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
  auto allocate = [&](const Manifest::Tensor &t) {
    size_t bytes = TensorSpec{t.id, t.dtype, t.shape}.numBytes();
    tsrt_buffer buffer = nullptr;
    error = take(tsrt_buffer_alloc(impl->runtime, bytes ? bytes : 1, &buffer));
    if (error.empty())
      buffers[t.id] = buffer;
    return error.empty();
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Manifest::Tensor &t = entry->inputs[i];
    if (inputs[i].dtype() != t.dtype || inputs[i].shape() != t.shape) {
      error = "input #" + std::to_string(i) + " does not match " +
              TensorSpec{t.id, t.dtype, t.shape}.str();
      release();
      return false;
    }
    if (!allocate(t) ||
        !(error = take(tsrt_buffer_upload(buffers[t.id], inputs[i].data(),
                                          inputs[i].numBytes())))
             .empty()) {
      release();
      return false;
    }
  }
  for (const Manifest::Tensor &t : entry->buffers)
    if (!allocate(t)) {
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
        auto it = buffers.find(id);
        if (it == buffers.end()) {
          error =
              "launch of " + l.kernel + " names unknown buffer '" + id + "'";
          break;
        }
        tsrt_arg a;
        a.kind = TSRT_ARG_BUFFER;
        a.value.buffer = it->second;
        args.push_back(a);
      }
      tsrt_launch_config config = {{l.grid[0], l.grid[1], l.grid[2]},
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
        outputs.emplace_back(t.dtype, t.shape);
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
