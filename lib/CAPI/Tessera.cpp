//===- Tessera.cpp - The JIT embedding C API over tessera::jit ------------===//
#include "tessera-c/Tessera.h"
#include "tessera/JIT/JIT.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

struct tessera_compiler_impl {
  tessera::jit::CompileOptions options;
  tessera_diagnostic_fn handler = nullptr;
  void *userData = nullptr;

  tessera::jit::DiagnosticFn diagnostics() const {
    return [fn = handler, ud = userData](const std::string &severity,
                                         const std::string &loc,
                                         const std::string &message) {
      if (!fn)
        return;
      tessera_severity s = severity == "error"     ? TESSERA_SEVERITY_ERROR
                           : severity == "warning" ? TESSERA_SEVERITY_WARNING
                           : severity == "note"    ? TESSERA_SEVERITY_NOTE
                                                   : TESSERA_SEVERITY_REMARK;
      fn(s, loc.c_str(), message.c_str(), ud);
    };
  }
  void error(const std::string &message) const {
    diagnostics()("error", "", message);
  }
};

struct tessera_module_impl {
  std::unique_ptr<tessera::jit::CompiledModule> compiled;
  tessera::jit::DiagnosticFn diag;
};

namespace {
const tessera::TensorSpec *specOf(const tessera::EntryABI &e, int isOutput,
                                  size_t index) {
  const auto &list = isOutput ? e.outputs : e.inputs;
  return index < list.size() ? &list[index] : nullptr;
}

/// Whether `b` has the shape `shape` (kDynamicDim entries match any size).
bool sameShape(const tessera_buffer &b, const std::vector<int64_t> &shape) {
  if (b.rank != static_cast<int64_t>(shape.size()) || (b.rank && !b.shape))
    return false;
  for (int64_t i = 0; i < b.rank; ++i)
    if (b.shape[i] < 0 ||
        (shape[i] != tessera::kDynamicDim && b.shape[i] != shape[i]))
      return false;
  return true;
}

std::vector<int64_t> shapeOf(const tessera_buffer &b) {
  return b.shape ? std::vector<int64_t>(b.shape, b.shape + b.rank)
                 : std::vector<int64_t>();
}
} // namespace

extern "C" {

int tessera_c_api_version(void) { return TESSERA_C_API_VERSION; }

tessera_status tessera_compiler_create(tessera_compiler *out) {
  if (!out)
    return TESSERA_ERROR_INVALID_ARGUMENT;
  *out = new tessera_compiler_impl();
  return TESSERA_OK;
}

void tessera_compiler_destroy(tessera_compiler compiler) { delete compiler; }

void tessera_compiler_set_diagnostic_handler(tessera_compiler compiler,
                                             tessera_diagnostic_fn fn,
                                             void *userData) {
  if (!compiler)
    return;
  compiler->handler = fn;
  compiler->userData = userData;
}

tessera_status tessera_compiler_set_option(tessera_compiler compiler,
                                           const char *key, const char *value) {
  if (!compiler || !key || !value)
    return TESSERA_ERROR_INVALID_ARGUMENT;
  std::string k = key, v = value;
  auto integer = [&](int64_t lo, int64_t hi, int64_t &slot) {
    char *end = nullptr;
    long long n = std::strtoll(value, &end, 10);
    if (v.empty() || *end || n < lo || n > hi) {
      compiler->error("option '" + k + "': '" + v + "' is not an integer in [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return TESSERA_ERROR_INVALID_ARGUMENT;
    }
    slot = n;
    return TESSERA_OK;
  };
  if (k == "opt_level") {
    int64_t level = 0;
    tessera_status s = integer(0, 3, level);
    compiler->options.optLevel = static_cast<int>(level);
    return s;
  }
  if (k == "vector_width")
    return integer(0, 64, compiler->options.vectorWidth);
  if (k == "cache_dir") {
    compiler->options.cacheDir = v;
    return TESSERA_OK;
  }
  compiler->error("unknown option '" + k +
                  "' (options: opt_level, vector_width, cache_dir)");
  return TESSERA_ERROR_NOT_FOUND;
}

tessera_status tessera_compile_source(tessera_compiler compiler,
                                      const char *source, size_t length,
                                      const char *name, const char *target,
                                      tessera_module *out) {
  if (!compiler || !source || !out)
    return TESSERA_ERROR_INVALID_ARGUMENT;
  *out = nullptr;
  tessera::jit::CompileOptions options = compiler->options;
  options.target = target ? target : "cpu";
  if (options.target != "cpu") {
    compiler->error("target '" + options.target +
                    "' cannot be JIT-compiled (targets: cpu)");
    return TESSERA_ERROR_UNSUPPORTED;
  }
  auto diag = compiler->diagnostics();
  auto compiled = tessera::jit::compile(
      std::string(source, length), name ? name : "<source>", options, diag);
  if (!compiled)
    return TESSERA_ERROR_COMPILE;
  *out = new tessera_module_impl{std::move(compiled), diag};
  return TESSERA_OK;
}

tessera_status tessera_compile_file(tessera_compiler compiler, const char *path,
                                    const char *target, tessera_module *out) {
  if (!compiler || !path || !out)
    return TESSERA_ERROR_INVALID_ARGUMENT;
  std::ifstream in(path);
  if (!in) {
    compiler->error(std::string("cannot open '") + path + "'");
    return TESSERA_ERROR_NOT_FOUND;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string source = text.str();
  return tessera_compile_source(compiler, source.data(), source.size(), path,
                                target, out);
}

void tessera_module_destroy(tessera_module module) { delete module; }

size_t tessera_module_num_entries(tessera_module module) {
  return module ? module->compiled->entries().size() : 0;
}

const char *tessera_module_entry_name(tessera_module module, size_t index) {
  if (!module || index >= module->compiled->entries().size())
    return nullptr;
  return module->compiled->entries()[index].name.c_str();
}

tessera_status tessera_entry_signature(tessera_module module, const char *entry,
                                       size_t *numInputs, size_t *numOutputs) {
  if (!module || !entry || !numInputs || !numOutputs)
    return TESSERA_ERROR_INVALID_ARGUMENT;
  const tessera::EntryABI *e = module->compiled->findEntry(entry);
  if (!e) {
    module->diag("error", "",
                 std::string("no entry @") + entry + " in the module");
    return TESSERA_ERROR_NOT_FOUND;
  }
  *numInputs = e->inputs.size();
  *numOutputs = e->outputs.size();
  return TESSERA_OK;
}

tessera_status tessera_entry_tensor(tessera_module module, const char *entry,
                                    int isOutput, size_t index,
                                    tessera_dtype *dtype, int64_t *rank,
                                    const int64_t **shape) {
  if (!module || !entry || !dtype || !rank || !shape)
    return TESSERA_ERROR_INVALID_ARGUMENT;
  const tessera::EntryABI *e = module->compiled->findEntry(entry);
  const tessera::TensorSpec *s = e ? specOf(*e, isOutput, index) : nullptr;
  if (!s)
    return TESSERA_ERROR_NOT_FOUND;
  *dtype = static_cast<tessera_dtype>(s->dtype);
  *rank = static_cast<int64_t>(s->shape.size());
  *shape = s->shape.data();
  return TESSERA_OK;
}

tessera_status tessera_output_shape(tessera_module module, const char *entry,
                                    const tessera_buffer *inputs,
                                    size_t numInputs, size_t index,
                                    int64_t *shape) {
  if (!module || !entry || (numInputs && !inputs) || !shape)
    return TESSERA_ERROR_INVALID_ARGUMENT;
  const tessera::EntryABI *e = module->compiled->findEntry(entry);
  if (!e || index >= e->outputs.size())
    return TESSERA_ERROR_NOT_FOUND;
  std::vector<std::vector<int64_t>> inShapes, outShapes;
  for (size_t i = 0; i < numInputs; ++i)
    inShapes.push_back(shapeOf(inputs[i]));
  std::string error;
  if (!tessera::resolveShapes(*e, inShapes, outShapes, error)) {
    module->diag("error", "", error);
    return TESSERA_ERROR_INVALID_ARGUMENT;
  }
  std::copy(outShapes[index].begin(), outShapes[index].end(), shape);
  return TESSERA_OK;
}

tessera_status tessera_invoke(tessera_module module, const char *entry,
                              const tessera_buffer *inputs, size_t numInputs,
                              const tessera_buffer *outputs,
                              size_t numOutputs) {
  if (!module || !entry || (numInputs && !inputs) || (numOutputs && !outputs))
    return TESSERA_ERROR_INVALID_ARGUMENT;
  const tessera::EntryABI *e = module->compiled->findEntry(entry);
  if (!e) {
    module->diag("error", "",
                 std::string("no entry @") + entry + " in the module");
    return TESSERA_ERROR_NOT_FOUND;
  }
  if (numInputs != e->inputs.size() || numOutputs != e->outputs.size()) {
    module->diag("error", "",
                 "entry @" + e->name + " takes " +
                     std::to_string(e->inputs.size()) + " inputs and " +
                     std::to_string(e->outputs.size()) + " outputs, got " +
                     std::to_string(numInputs) + " and " +
                     std::to_string(numOutputs));
    return TESSERA_ERROR_INVALID_ARGUMENT;
  }
  std::vector<void *> in, out;
  std::vector<std::vector<int64_t>> inShapes, outShapes;
  auto check = [&](const tessera_buffer &b, const tessera::TensorSpec &s,
                   const std::vector<int64_t> &shape, const char *what,
                   size_t i) {
    if (!b.data || static_cast<int>(b.dtype) != static_cast<int>(s.dtype) ||
        !sameShape(b, shape)) {
      tessera::TensorSpec want = s;
      want.shape = shape;
      module->diag("error", "",
                   std::string(what) + " #" + std::to_string(i) + " of @" +
                       e->name + " must be " + want.str() +
                       (b.data ? "" : " (its data pointer is NULL)"));
      return false;
    }
    return true;
  };
  for (size_t i = 0; i < numInputs; ++i) {
    if (!check(inputs[i], e->inputs[i], e->inputs[i].shape, "input", i))
      return TESSERA_ERROR_INVALID_ARGUMENT;
    in.push_back(inputs[i].data);
    inShapes.push_back(shapeOf(inputs[i]));
  }
  // Dynamic output dims take their sizes from the inputs.
  std::string error;
  if (!tessera::resolveShapes(*e, inShapes, outShapes, error)) {
    module->diag("error", "", error);
    return TESSERA_ERROR_INVALID_ARGUMENT;
  }
  for (size_t i = 0; i < numOutputs; ++i) {
    if (!check(outputs[i], e->outputs[i], outShapes[i], "output", i))
      return TESSERA_ERROR_INVALID_ARGUMENT;
    out.push_back(outputs[i].data);
  }
  return module->compiled->invoke(e->name, in, inShapes, out, module->diag)
             ? TESSERA_OK
             : TESSERA_ERROR_INVALID_ARGUMENT;
}

} // extern "C"
