//===- TesseraBase.td - Tessera dialect definition ---------*- tablegen -*-===//
//
// The `tessera` dialect: attention, KV compression and training kernels as ops that compose.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_BASE_TD
#define TESSERA_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Tessera_Dialect : Dialect {
  let name = "tessera";
  let cppNamespace = "::mlir::tessera";
  let summary = "Ops for LLM serving and training kernels that compose.";
  let description = [{
    The `tessera` dialect expresses the kernels that LLM serving and training are built from
    (dense, windowed and block-sparse attention, block routing, KV-cache quantization and
    eviction, Hadamard rotations, a linear backward fused with its optimizer, persistent task
    graphs) as ops on ranked tensors with value semantics. The ops are designed to compose:
    any attention variant reads any packed KV format (`!tessera.qtensor`), takes any block mask
    (from `tessera.block_select` or a constant topology) and any compacted cache (from
    `tessera.evict`).

    Reference semantics of every op: `shared/docs/ALGORITHMS.md`; design: `docs/architecture.md`.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
    void registerTypes();
  }];
}

class Tessera_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tessera_Dialect, mnemonic, traits>;

#endif // TESSERA_BASE_TD
