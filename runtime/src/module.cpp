//===- module.cpp - Loading device code and launching kernels -------------===//
#include "internal.h"
#include "status.h"

#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

using tsrt::makeStatus;

struct tsrt_module_impl {
  tsrt_runtime runtime;
  tsrt::CUmodule module;
  std::map<std::string, std::unique_ptr<tsrt_kernel_impl>> kernels;
};

namespace {

tsrt_status load(tsrt_runtime runtime, const void *image, const char *what,
                 tsrt_module *out) {
  if (tsrt_status s = tsrt::makeCurrent(runtime))
    return s;
  // Keep the driver's JIT log: for PTX it names the offending line.
  char log[4096] = {0};
  tsrt::CUjit_option options[] = {tsrt::CU_JIT_ERROR_LOG_BUFFER,
                                  tsrt::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log))};
  tsrt::CUmodule module = nullptr;
  if (tsrt::CUresult rc = runtime->driver->cuModuleLoadDataEx(
          &module, image, 2, options, values)) {
    tsrt_status base = tsrt::cudaStatus(*runtime->driver, rc, what);
    tsrt_status s =
        makeStatus(tsrt_status_code(base), "%s%s%s", tsrt_status_message(base),
                   log[0] ? ": " : "", log);
    tsrt_status_free(base);
    return s;
  }
  *out = new (std::nothrow) tsrt_module_impl{runtime, module, {}};
  if (!*out) {
    runtime->driver->cuModuleUnload(module);
    return makeStatus(TSRT_OUT_OF_MEMORY, "out of host memory");
  }
  return nullptr;
}

} // namespace

extern "C" {

tsrt_status tsrt_module_load_ptx(tsrt_runtime runtime, const char *ptx,
                                 size_t length, tsrt_module *out) {
  if (!runtime || !ptx || !out || length == 0)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_module_load_ptx: NULL or empty argument");
  *out = nullptr;
  std::string text(ptx, length); // the driver wants NUL-terminated PTX
  return load(runtime, text.c_str(), "cuModuleLoadDataEx (PTX)", out);
}

tsrt_status tsrt_module_load_image(tsrt_runtime runtime, const void *image,
                                   size_t length, tsrt_module *out) {
  if (!runtime || !image || !out || length == 0)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_module_load_image: NULL or empty argument");
  *out = nullptr;
  return load(runtime, image, "cuModuleLoadDataEx (cubin)", out);
}

void tsrt_module_unload(tsrt_module module) {
  if (!module)
    return;
  if (tsrt_status s = tsrt::makeCurrent(module->runtime))
    tsrt_status_free(s);
  module->runtime->driver->cuModuleUnload(module->module);
  delete module;
}

tsrt_status tsrt_module_get_kernel(tsrt_module module, const char *name,
                                   tsrt_kernel *out) {
  if (!module || !name || !out)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_module_get_kernel: NULL argument");
  *out = nullptr;
  auto it = module->kernels.find(name);
  if (it != module->kernels.end()) {
    *out = it->second.get();
    return nullptr;
  }
  if (tsrt_status s = tsrt::makeCurrent(module->runtime))
    return s;
  tsrt::CUfunction function = nullptr;
  if (tsrt::CUresult rc = module->runtime->driver->cuModuleGetFunction(
          &function, module->module, name)) {
    tsrt_status base =
        tsrt::cudaStatus(*module->runtime->driver, rc, "cuModuleGetFunction");
    tsrt_status s = makeStatus(tsrt_status_code(base), "kernel '%s': %s", name,
                               tsrt_status_message(base));
    tsrt_status_free(base);
    return s;
  }
  auto kernel = std::unique_ptr<tsrt_kernel_impl>(
      new (std::nothrow) tsrt_kernel_impl{module, function, name});
  if (!kernel)
    return makeStatus(TSRT_OUT_OF_MEMORY, "out of host memory");
  *out = kernel.get();
  module->kernels.emplace(name, std::move(kernel));
  return nullptr;
}

tsrt_status tsrt_launch(tsrt_kernel kernel, const tsrt_launch_config *config,
                        const tsrt_arg *args, size_t numArgs,
                        tsrt_stream stream) {
  if (!kernel || !config || (numArgs && !args))
    return makeStatus(TSRT_INVALID_ARGUMENT, "tsrt_launch: NULL argument");
  for (int i = 0; i < 3; ++i)
    if (config->grid[i] == 0 || config->block[i] == 0)
      return makeStatus(TSRT_INVALID_ARGUMENT,
                        "tsrt_launch '%s': grid and block dims must be "
                        "positive (grid %u,%u,%u "
                        "block %u,%u,%u)",
                        kernel->name.c_str(), config->grid[0], config->grid[1],
                        config->grid[2], config->block[0], config->block[1],
                        config->block[2]);
  tsrt_runtime runtime = kernel->module->runtime;
  // The driver takes one pointer per parameter, pointing at the parameter's
  // value.
  std::vector<unsigned long long> values(numArgs);
  std::vector<void *> params(numArgs);
  for (size_t i = 0; i < numArgs; ++i) {
    switch (args[i].kind) {
    case TSRT_ARG_BUFFER:
      if (!args[i].value.buffer)
        return makeStatus(TSRT_INVALID_ARGUMENT,
                          "tsrt_launch '%s': argument %zu is a NULL buffer",
                          kernel->name.c_str(), i);
      values[i] = args[i].value.buffer->address;
      break;
    case TSRT_ARG_I32:
      std::memcpy(&values[i], &args[i].value.i32, sizeof(int32_t));
      break;
    case TSRT_ARG_I64:
      std::memcpy(&values[i], &args[i].value.i64, sizeof(int64_t));
      break;
    case TSRT_ARG_F32:
      std::memcpy(&values[i], &args[i].value.f32, sizeof(float));
      break;
    default:
      return makeStatus(
          TSRT_INVALID_ARGUMENT, "tsrt_launch '%s': argument %zu has kind %d",
          kernel->name.c_str(), i, static_cast<int>(args[i].kind));
    }
    params[i] = &values[i];
  }
  if (tsrt_status s = tsrt::makeCurrent(runtime))
    return s;
  const tsrt::Driver &d = *runtime->driver;
  if (config->shared_bytes > 48 * 1024)
    if (tsrt::CUresult rc = d.cuFuncSetAttribute(
            kernel->function,
            tsrt::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            static_cast<int>(config->shared_bytes)))
      return tsrt::cudaStatus(d, rc,
                              "cuFuncSetAttribute(max dynamic shared memory)");
  if (tsrt::CUresult rc = d.cuLaunchKernel(
          kernel->function, config->grid[0], config->grid[1], config->grid[2],
          config->block[0], config->block[1], config->block[2],
          config->shared_bytes, tsrt::streamOf(stream),
          numArgs ? params.data() : nullptr, nullptr)) {
    tsrt_status base = tsrt::cudaStatus(d, rc, "cuLaunchKernel");
    tsrt_status s = makeStatus(tsrt_status_code(base), "kernel '%s': %s",
                               kernel->name.c_str(), tsrt_status_message(base));
    tsrt_status_free(base);
    return s;
  }
  return nullptr;
}

} // extern "C"
