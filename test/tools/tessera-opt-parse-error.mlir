// A syntax error in an attribute is located at the offending token, exit status 1.
// RUN: not tessera-opt %s 2>&1 | FileCheck %s
// RUN: tessera-opt %s; test $? -eq 1

// CHECK: tessera-opt-parse-error.mlir:[[# @LINE + 1]]:78: error: unknown field 'group' for 'tq_mse' quantization (expected one of: bits, rotation, seed, norm)
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<tq_mse, bits = 4, group = 8>>) {
  return
}
