//===- TestSupport.h - Shared fixture for dialect unit tests ----*- C++ -*-===//
#ifndef TESSERA_TEST_UNIT_DIALECT_TESTSUPPORT_H
#define TESSERA_TEST_UNIT_DIALECT_TESTSUPPORT_H

#include "Tessera/TesseraOps.h"
#include "tessera/InitAll.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace tessera::test {

/// A context with every dialect loaded and the diagnostics of the test
/// collected.
class DialectTest : public ::testing::Test {
protected:
  DialectTest()
      : handler(&ctx,
                [this](mlir::Diagnostic &d) { diags.push_back(d.str()); }) {
    mlir::DialectRegistry registry;
    tessera::registerAllDialects(registry);
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }

  mlir::RankedTensorType tensor(llvm::ArrayRef<int64_t> shape,
                                mlir::Type elt = {}) {
    return mlir::RankedTensorType::get(
        shape, elt ? elt : mlir::Float32Type::get(&ctx));
  }

  /// Prints an attribute, a type or an op to a string.
  std::string print(mlir::Attribute value) { return printed(value); }
  std::string print(mlir::Type value) { return printed(value); }
  std::string print(mlir::Operation *op) { return printed(*op); }

private:
  template <typename T> static std::string printed(T &&value) {
    std::string s;
    llvm::raw_string_ostream os(s);
    value.print(os);
    return s;
  }

protected:
  mlir::MLIRContext ctx;
  mlir::ScopedDiagnosticHandler handler;
  std::vector<std::string> diags;
};

} // namespace tessera::test

#endif // TESSERA_TEST_UNIT_DIALECT_TESTSUPPORT_H
