//===- TesseraAttrs.td - Tessera enums and attributes ------*- tablegen -*-===//
//
// Enumerations and attributes of the tessera dialect: quantization schemes, eviction policies,
// block pooling and optimizers.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_ATTRS_TD
#define TESSERA_ATTRS_TD

include "Tessera/TesseraBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// Enumerations
//===----------------------------------------------------------------------===//

def Tessera_QuantScheme : I32EnumAttr<"QuantScheme", "quantization scheme", [
    I32EnumAttrCase<"Int", 0, "int">,
    I32EnumAttrCase<"TqMse", 1, "tq_mse">,
    I32EnumAttrCase<"BlockGtq", 2, "block_gtq">,
    I32EnumAttrCase<"Lattice", 3, "lattice">,
    I32EnumAttrCase<"Graded", 4, "graded">]> {
  let cppNamespace = "::mlir::tessera";
  let genSpecializedAttr = 0;
}

def Tessera_Rotation : I32EnumAttr<"Rotation", "random rotation applied before quantizing", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"Hadamard", 1, "hadamard">,
    I32EnumAttrCase<"Haar", 2, "haar">]> {
  let cppNamespace = "::mlir::tessera";
  let genSpecializedAttr = 0;
}

def Tessera_LatticeKind : I32EnumAttr<"LatticeKind", "lattice used by lattice quantization", [
    I32EnumAttrCase<"E8", 0, "e8">,
    I32EnumAttrCase<"D4", 1, "d4">,
    I32EnumAttrCase<"A2", 2, "a2">,
    I32EnumAttrCase<"Z", 3, "z">]> {
  let cppNamespace = "::mlir::tessera";
  let genSpecializedAttr = 0;
}

def Tessera_EvictPolicy : I32EnumAttr<"EvictPolicy", "KV-cache eviction policy", [
    I32EnumAttrCase<"SinkWindow", 0, "sink_window">,
    I32EnumAttrCase<"SnapKV", 1, "snapkv">,
    I32EnumAttrCase<"CompressKV", 2, "compresskv">,
    I32EnumAttrCase<"H2O", 3, "h2o">,
    I32EnumAttrCase<"Reservoir", 4, "reservoir">]> {
  let cppNamespace = "::mlir::tessera";
  let genSpecializedAttr = 0;
}

def Tessera_EvictScope : I32EnumAttr<"EvictScope", "granularity of an eviction decision", [
    I32EnumAttrCase<"PerHead", 0, "per_head">,
    I32EnumAttrCase<"PerLayer", 1, "per_layer">]> {
  let cppNamespace = "::mlir::tessera";
  let genSpecializedAttr = 0;
}

def Tessera_BlockPool : I32EnumAttr<"BlockPool", "pooling of keys within a block", [
    I32EnumAttrCase<"Avg", 0, "avg">,
    I32EnumAttrCase<"Max", 1, "max">,
    I32EnumAttrCase<"Min", 2, "min">,
    I32EnumAttrCase<"MaxMinAvg", 3, "max_min_avg">]> {
  let cppNamespace = "::mlir::tessera";
  let genSpecializedAttr = 0;
}

def Tessera_OptimizerKind : I32EnumAttr<"OptimizerKind", "element-wise optimizer", [
    I32EnumAttrCase<"SGD", 0, "sgd">,
    I32EnumAttrCase<"Adam", 1, "adam">,
    I32EnumAttrCase<"AdamW", 2, "adamw">]> {
  let cppNamespace = "::mlir::tessera";
  let genSpecializedAttr = 0;
}

class Tessera_EnumAttr<EnumAttrInfo info, string mnemonic>
    : EnumAttr<Tessera_Dialect, info, mnemonic> {
  let assemblyFormat = "$value";
}

def Tessera_EvictPolicyAttr : Tessera_EnumAttr<Tessera_EvictPolicy, "evict_policy">;
def Tessera_EvictScopeAttr : Tessera_EnumAttr<Tessera_EvictScope, "evict_scope">;
def Tessera_BlockPoolAttr : Tessera_EnumAttr<Tessera_BlockPool, "pool">;

//===----------------------------------------------------------------------===//
// #tessera.quant
//===----------------------------------------------------------------------===//

class Tessera_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Tessera_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Tessera_QuantAttr : Tessera_Attr<"Quant", "quant"> {
  let summary = "A quantization scheme and its parameters";
  let description = [{
    Describes how a `!tessera.qtensor` stores its values. One attribute covers every scheme so
    that any op that reads a packed tensor (attention, dequantize) dispatches on one place.
    The first keyword names the scheme; the fields that follow are the ones that scheme takes
    (any other field is an error):

    | scheme      | fields (defaults)                                                         |
    |-------------|---------------------------------------------------------------------------|
    | `int`       | `bits` (1..8), `group` (elements per scale; default: the whole last dim), `symmetric` or `asymmetric` (symmetric) |
    | `tq_mse`    | `bits` (1..8), `rotation` (hadamard), `seed` (0), `norm` (f32)            |
    | `block_gtq` | `bits = [b0, b1, ...]` one width per RoPE block (D/2 of them), `rotation`, `seed`, `norm` |
    | `lattice`   | `lattice` (e8, d4, a2, z), `alpha` (1.0) or `snr` (dB), `dither`, `rice`, `rotation`, `seed` |
    | `graded`    | `bits` (number of nested bit-planes, 1..8)                                |

    Lattice fields: `snr = 21.0` sets alpha to the scale at which a unit-variance coordinate
    quantizes with that signal-to-noise ratio in dB (alpha^2 = 10^(snr/10) G V^(2/n), from the
    lattice's normalised second moment G and cell volume V; printed as the alpha it gives).
    `dither` adds a seeded subtractive dither, uniform over the Voronoi cell, before the nearest
    point and subtracts it again when decoding (counter-based: it depends on the seed, the
    row's position in the tensor and the coordinate), which makes the error zero-mean and
    independent of the input. `rice` marks the codes' at-rest form as Rice-coded
    (`tessera-run --rice-encode`); the tensor itself holds fixed-width i8 codes.

    Stored norms (the `norms` component): tq_mse and block_gtq store, per row (per bit-width
    group for block_gtq), ||x|| / ||c||, the norm correction of the decoder folded into the norm
    (c: the row's centroids), so that every element decodes on its own; lattice stores ||x||.

    Rules that need the tensor's head dim (group divides D, `bits` list of D/2 entries, lattice
    dimension divides D, Hadamard needs a power-of-two D) are checked by `!tessera.qtensor`.

    Examples:
    ```mlir
    #tessera.quant<int, bits = 4, group = 32, asymmetric>
    #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 7, norm = f16>
    #tessera.quant<block_gtq, bits = [4, 2, 1, 1], rotation = haar, seed = 0, norm = f32>
    #tessera.quant<lattice, lattice = e8, alpha = 1.5, rice, rotation = hadamard, seed = 1>
    #tessera.quant<graded, bits = 4>
    ```
  }];
  let parameters = (ins
    EnumParameter<Tessera_QuantScheme>:$scheme,
    ArrayRefParameter<"int64_t", "bit widths">:$bits,
    "int64_t":$group,
    "bool":$symmetric,
    EnumParameter<Tessera_Rotation>:$rotation,
    "int64_t":$seed,
    EnumParameter<Tessera_LatticeKind>:$lattice,
    APFloatParameter<"lattice scale">:$alpha,
    "bool":$rice,
    "::mlir::Type":$normType,
    "bool":$dither
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    AttrBuilder<(ins "QuantScheme":$scheme, "::llvm::ArrayRef<int64_t>":$bits), [{
      return $_get($_ctxt, scheme, bits, /*group=*/0, /*symmetric=*/true,
                   scheme == QuantScheme::Int || scheme == QuantScheme::Graded
                       ? Rotation::None : Rotation::Hadamard,
                   /*seed=*/0, LatticeKind::E8, ::llvm::APFloat(1.0), /*rice=*/false,
                   ::mlir::Float32Type::get($_ctxt), /*dither=*/false);
    }]>
  ];
  let extraClassDeclaration = [{
    /// The single bit width of a scheme that has one (all but block_gtq).
    int64_t getUniformBits() const { return getBits().front(); }
    /// Dimension of the lattice's pieces (E8: 8, D4: 4, A2: 2, Z: 1).
    int64_t getLatticeDim() const;
    /// Whether a key or value cache may be stored in this scheme (graded is for weights).
    bool isKVScheme() const { return getScheme() != QuantScheme::Graded; }
    /// Checks the rules that depend on the head dim `d` (the last dim of the tensor).
    ::llvm::LogicalResult verifyForHeadDim(
        ::llvm::function_ref<::mlir::InFlightDiagnostic()> emitError, int64_t d) const;
  }];
}

//===----------------------------------------------------------------------===//
// #tessera.optimizer
//===----------------------------------------------------------------------===//

def Tessera_OptimizerAttr : Tessera_Attr<"Optimizer", "optimizer"> {
  let summary = "An element-wise optimizer and its hyper-parameters (PyTorch semantics)";
  let description = [{
    The optimizer applied by `tessera.linear_backward_update` to each weight tile as soon as
    its gradient tile is reduced. Only element-wise optimizers fit: global-norm clipping and
    gradient accumulation need the whole gradient and are rejected with a diagnostic.

    | optimizer | fields (defaults)                                                                |
    |-----------|----------------------------------------------------------------------------------|
    | `sgd`     | `lr` (1e-3), `momentum` (0), `dampening` (0), `weight_decay` (0)                  |
    | `adam`    | `lr` (1e-3), `beta1` (0.9), `beta2` (0.999), `eps` (1e-8), `weight_decay` (0)     |
    | `adamw`   | `lr` (1e-3), `beta1` (0.9), `beta2` (0.999), `eps` (1e-8), `weight_decay` (1e-2)  |

    Any optimizer also takes `stochastic_rounding` (round the updated bf16 weight
    stochastically, seeded by the step). A field the optimizer does not take is an error.

    Example: `#tessera.optimizer<adamw, lr = 3.0e-04, weight_decay = 0.1>`
  }];
  let parameters = (ins
    EnumParameter<Tessera_OptimizerKind>:$kind,
    APFloatParameter<"learning rate">:$lr,
    APFloatParameter<"momentum">:$momentum,
    APFloatParameter<"dampening">:$dampening,
    APFloatParameter<"beta1">:$beta1,
    APFloatParameter<"beta2">:$beta2,
    APFloatParameter<"eps">:$eps,
    APFloatParameter<"weight decay">:$weightDecay,
    "bool":$stochasticRounding
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// An optimizer of `kind` with PyTorch's default hyper-parameters.
    static OptimizerAttr getDefault(::mlir::MLIRContext *ctx, OptimizerKind kind);
    /// Number of per-weight state tensors the optimizer carries (momentum buffer, Adam moments).
    unsigned getNumStateTensors() const;
  }];
}

//===----------------------------------------------------------------------===//
// #tessera.block_topology
//===----------------------------------------------------------------------===//

def Tessera_BlockTopologyAttr : Tessera_Attr<"BlockTopology", "block_topology"> {
  let summary = "A static block-sparsity pattern: the key blocks each query block reads";
  let description = [{
    What `--tessera-sparsify` makes of a constant block mask: for each row
    `(b, h, qb)` (row index `(b * heads + h) * query_blocks + qb`, with `batch` 1 or B and
    `heads` 1, Hkv or Hq as for a mask operand), the ascending key-block indices
    `indices[offsets[row] .. offsets[row + 1])`. Lowerings loop over these lists directly:
    no mask is read and no disabled block is visited.

    Example:
    `#tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 3,
      offsets = [0, 1, 3], indices = [0, 0, 1]>`
  }];
  let parameters = (ins "int64_t":$batch, "int64_t":$heads, "int64_t":$queryBlocks,
                        "int64_t":$keyBlocks, ArrayRefParameter<"int32_t">:$offsets,
                        ArrayRefParameter<"int32_t">:$indices);
  // Custom: the index list may be empty (a mask with no enabled block).
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of enabled (query block, key block) pairs.
    int64_t getNumBlocks() const { return static_cast<int64_t>(getIndices().size()); }
  }];
}

//===----------------------------------------------------------------------===//
// #tessera.tile
//===----------------------------------------------------------------------===//

def Tessera_TileAttr : Tessera_Attr<"Tile", "tile"> {
  let summary = "How an attention's query rows are split into work items";
  let description = [{
    Set by `--tessera-tile-attention` and followed by the lowerings: each work item (a CPU
    task of the parallel loop, a GPU CTA) owns `query` consecutive query rows of one
    (batch, query head) and runs the online softmax over its key blocks. `query` divides
    the op's `block_q`, so a work item never straddles two rows of the block mask or
    topology. `warps` (GPU only; 0 on the CPU) is the number of warps per CTA, each owning
    16 rows, so `query = 16 * warps` there. `kv_splits` (flash-decoding) splits each work
    item's key blocks into that many contiguous chunks run as separate work items, whose
    partial results are combined through their log-sum-exp: for few query rows over long
    caches, where one work item per query tile would leave cores or SMs idle.

    Example: `#tessera.tile<query = 32, warps = 2>`, `#tessera.tile<query = 16>`,
    `#tessera.tile<query = 8, kv_splits = 4>`.
  }];
  let parameters = (ins "int64_t":$query, DefaultValuedParameter<"int64_t", "0">:$warps,
                        DefaultValuedParameter<"int64_t", "1">:$kv_splits);
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // TESSERA_ATTRS_TD
