/* embed.c - Embeds Tessera's JIT in a C program: compiles a GQA causal
 * attention from MLIR text, runs it on its own buffers, and checks one output
 * row against a direct computation. Built and run by `make test`; exits 0 on
 * success. */
#include "tessera-c/Tessera.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kModule =
    "func.func @attend(%q: tensor<1x4x5x16xf32>, %k: tensor<1x2x9x16xf32>,\n"
    "                  %v: tensor<1x2x9x16xf32>) -> tensor<1x4x5x16xf32> {\n"
    "  %o, %lse = tessera.attention %q, %k, %v {causal}\n"
    "      : tensor<1x4x5x16xf32>, tensor<1x2x9x16xf32>, tensor<1x2x9x16xf32>\n"
    "      -> tensor<1x4x5x16xf32>, tensor<1x4x5xf32>\n"
    "  return %o : tensor<1x4x5x16xf32>\n"
    "}\n";

static void onDiagnostic(tessera_severity severity, const char *location,
                         const char *message, void *user) {
  (void)user;
  fprintf(stderr, "%s%s%s: %s\n", location, *location ? ": " : "",
          severity == TESSERA_SEVERITY_ERROR ? "error" : "note", message);
}

int main(void) {
  if (tessera_c_api_version() != TESSERA_C_API_VERSION) {
    fprintf(stderr, "header and library versions differ\n");
    return 1;
  }
  tessera_compiler compiler;
  tessera_module module;
  if (tessera_compiler_create(&compiler) != TESSERA_OK)
    return 1;
  tessera_compiler_set_diagnostic_handler(compiler, onDiagnostic, NULL);
  tessera_compiler_set_option(compiler, "cache_dir", "off");
  if (tessera_compile_source(compiler, kModule, strlen(kModule),
                             "embedded.mlir", "cpu", &module) != TESSERA_OK)
    return 1;

  float q[4 * 5 * 16], k[2 * 9 * 16], v[2 * 9 * 16], o[4 * 5 * 16];
  for (int i = 0; i < 4 * 5 * 16; ++i)
    q[i] = sinf(0.37f * (float)i);
  for (int i = 0; i < 2 * 9 * 16; ++i) {
    k[i] = cosf(0.11f * (float)i);
    v[i] = sinf(0.07f * (float)i + 1.0f);
  }
  int64_t qShape[] = {1, 4, 5, 16}, kvShape[] = {1, 2, 9, 16};
  tessera_buffer inputs[] = {{q, TESSERA_F32, 4, qShape},
                             {k, TESSERA_F32, 4, kvShape},
                             {v, TESSERA_F32, 4, kvShape}};
  tessera_buffer outputs[] = {{o, TESSERA_F32, 4, qShape}};
  if (tessera_invoke(module, "attend", inputs, 3, outputs, 1) != TESSERA_OK)
    return 1;

  /* A wrong shape is refused with a diagnostic (printed above), not run. */
  fprintf(stderr, "embed: next, a deliberately wrong input shape:\n");
  int64_t badShape[] = {1, 4, 5, 8};
  tessera_buffer bad[] = {{q, TESSERA_F32, 4, badShape}, inputs[1], inputs[2]};
  if (tessera_invoke(module, "attend", bad, 3, outputs, 1) !=
      TESSERA_ERROR_INVALID_ARGUMENT)
    return 1;

  /* Query head 3 (KV head 1), row 2 sees keys 0..6 (causal, Skv - Sq = 4). */
  double scores[9], m = -1e300, l = 0, worst = 0;
  for (int j = 0; j <= 6; ++j) {
    double s = 0;
    for (int d = 0; d < 16; ++d)
      s += q[(3 * 5 + 2) * 16 + d] * k[(1 * 9 + j) * 16 + d];
    scores[j] = s / 4.0;
    m = scores[j] > m ? scores[j] : m;
  }
  for (int j = 0; j <= 6; ++j)
    l += exp(scores[j] - m);
  for (int d = 0; d < 16; ++d) {
    double ref = 0;
    for (int j = 0; j <= 6; ++j)
      ref += exp(scores[j] - m) / l * v[(1 * 9 + j) * 16 + d];
    double err = fabs(ref - o[(3 * 5 + 2) * 16 + d]);
    worst = err > worst ? err : worst;
  }
  printf("embed: @attend ran; max error on a checked row %.3g\n", worst);
  tessera_module_destroy(module);
  tessera_compiler_destroy(compiler);
  return worst < 1e-5 ? 0 : 1;
}
