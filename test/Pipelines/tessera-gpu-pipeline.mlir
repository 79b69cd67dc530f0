// --tessera-gpu-pipeline ends in a gpu.binary for the chosen chip: PTX by default (no CUDA
// toolkit needed), a cubin with format=bin (through ptxas); the host launches the kernel.
// f16 uses the f16 tensor-core instruction (operands as vector<2xf16>, not packed words).
// RUN: tessera-opt %s --tessera-gpu-pipeline='chip=sm_90' | FileCheck %s
// CHECK-LABEL: func.func @attn
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_attention_0
// CHECK: gpu.binary @tessera_kernels  [#gpu.object<#nvvm.target<chip = "sm_90", features = "+ptx80">, {{.*}}assembly = "{{.*}}mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// RUN: %if ptxas %{ tessera-opt %s --tessera-gpu-pipeline='chip=sm_80 format=bin' | FileCheck %s --check-prefix=CUBIN %}
// CUBIN: gpu.binary @tessera_kernels  [#gpu.object<#nvvm.target<chip = "sm_80", features = "+ptx80">, {{.*}}bin = "\7FELF
func.func @attn(%q: tensor<1x4x128x64xf16>, %k: tensor<1x4x128x64xf16>, %v: tensor<1x4x128x64xf16>) -> tensor<1x4x128x64xf16> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<1x4x128x64xf16>, tensor<1x4x128x64xf16>, tensor<1x4x128x64xf16> -> tensor<1x4x128x64xf16>, tensor<1x4x128xf32>
  return %o : tensor<1x4x128x64xf16>
}
