//===- AssertionsTest.cpp - The assertion build really asserts
//-------------===//
//
// Built only with -DTESSERA_ASSERTIONS=ON (the gcc and sanitizer CI trees):
// there, the asserts of our code and of the LLVM/MLIR headers it inlines must
// be compiled in, even though Debian's LLVM is a release (NDEBUG) build.
//
//===----------------------------------------------------------------------===//
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"

#include <cassert>
#include <gtest/gtest.h>

namespace {

#ifdef NDEBUG
#error                                                                         \
    "TESSERA_ASSERTIONS=ON but NDEBUG is defined: the build flags lost -UNDEBUG"
#endif

// Our own asserts abort.
TEST(Assertions, OursAreCompiledIn) {
  EXPECT_DEATH(assert(false && "tessera assertion"), "tessera assertion");
}

// So do the ones in inlined MLIR headers: a cast<> to the wrong type is caught
// instead of silently reinterpreting the storage.
TEST(Assertions, InlinedMLIRAssertsAreCompiledIn) {
  mlir::MLIRContext ctx;
  mlir::Type f32 = mlir::Float32Type::get(&ctx);
  EXPECT_DEATH((void)llvm::cast<mlir::IntegerType>(f32),
               "cast<Ty>\\(\\) argument of "
               "incompatible type");
}

} // namespace
