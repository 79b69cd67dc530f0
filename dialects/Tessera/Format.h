//===- Format.h - Shortest round-trip formatting of doubles -----*- C++ -*-===//
//
// Internal to the dialect: how verifier messages and attribute printers spell
// numbers.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_DIALECT_TESSERA_FORMAT_H
#define TESSERA_DIALECT_TESSERA_FORMAT_H

#include <charconv>
#include <string>
#include <system_error>

namespace mlir::tessera::format {

/// The shortest decimal that parses back to `value` ("0.95", "1e-08", "-1").
inline std::string formatDouble(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : std::string("nan");
}

/// As formatDouble, but always a valid MLIR float literal, which needs a '.'
/// ("1.0e-08").
inline std::string formatFloatLiteral(double value) {
  std::string text = formatDouble(value);
  if (text.find_first_of(".ni") == std::string::npos) {
    size_t e = text.find('e');
    text.insert(e == std::string::npos ? text.size() : e, ".0");
  }
  return text;
}

} // namespace mlir::tessera::format

#endif // TESSERA_DIALECT_TESSERA_FORMAT_H
