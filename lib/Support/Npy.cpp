//===- Npy.cpp - NumPy .npy files <-> host tensors ------------------------===//
#include "tessera/Support/Npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

using namespace tessera;

namespace {

const char *descrOf(DType d) {
  switch (d) {
  case DType::F32:
    return "<f4";
  case DType::F16:
    return "<f2";
  case DType::BF16:
    return "<u2";
  case DType::I8:
    return "|i1";
  case DType::U8:
    return "|u1";
  case DType::I32:
    return "<i4";
  case DType::I64:
    return "<i8";
  case DType::I1:
    return "|b1";
  }
  return "";
}

std::optional<DType> dtypeOfDescr(const std::string &descr) {
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::I8, DType::U8,
                  DType::I32, DType::I64, DType::I1})
    if (descr == descrOf(d))
      return d;
  // Byte-sized types may be written with '<' or '=' too.
  if (descr == "<i1" || descr == "=i1")
    return DType::I8;
  if (descr == "<u1" || descr == "=u1")
    return DType::U8;
  if (descr == "<b1" || descr == "=b1")
    return DType::I1;
  return std::nullopt;
}

/// The value text after `'key':` in a header dict, up to the next top-level
/// comma.
std::optional<std::string> field(const std::string &header,
                                 const std::string &key) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos)
    return std::nullopt;
  size_t colon = header.find(':', k);
  if (colon == std::string::npos)
    return std::nullopt;
  size_t start = colon + 1, end = start;
  int depth = 0;
  for (; end < header.size(); ++end) {
    char c = header[end];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  std::string value = header.substr(start, end - start);
  size_t a = value.find_first_not_of(" \t"), b = value.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : value.substr(a, b - a + 1);
}

} // namespace

std::optional<HostTensor> tessera::readNpy(const std::string &path,
                                           std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "'";
    return std::nullopt;
  }
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    error = "'" + path + "' is not a .npy file (bad magic)";
    return std::nullopt;
  }
  int major = static_cast<unsigned char>(magic[6]);
  uint32_t headerLen = 0;
  unsigned char len[4] = {0, 0, 0, 0};
  if (major == 1) {
    in.read(reinterpret_cast<char *>(len), 2);
    headerLen = len[0] | (len[1] << 8);
  } else if (major == 2 || major == 3) {
    in.read(reinterpret_cast<char *>(len), 4);
    headerLen = len[0] | (len[1] << 8) | (len[2] << 16) |
                (static_cast<uint32_t>(len[3]) << 24);
  } else {
    error = "'" + path + "': unsupported .npy version " + std::to_string(major);
    return std::nullopt;
  }
  std::string header(headerLen, '\0');
  if (!in.read(header.data(), headerLen)) {
    error = "'" + path + "': truncated header";
    return std::nullopt;
  }
  std::optional<std::string> descr = field(header, "descr"),
                             fortran = field(header, "fortran_order"),
                             shapeText = field(header, "shape");
  if (!descr || !fortran || !shapeText) {
    error = "'" + path + "': malformed header: " + header;
    return std::nullopt;
  }
  std::string d =
      descr->size() >= 2 ? descr->substr(1, descr->size() - 2) : *descr;
  std::optional<DType> dtype = dtypeOfDescr(d);
  if (!dtype) {
    error = "'" + path + "': unsupported dtype '" + d +
            "' (supported: <f4, <f2, <u2 (bf16 bits), |i1, |u1, <i4, <i8, |b1)";
    return std::nullopt;
  }
  if (*fortran != "False") {
    error = "'" + path +
            "': Fortran-ordered arrays are not supported (save with C order)";
    return std::nullopt;
  }
  std::vector<int64_t> shape;
  std::string dims = shapeText->substr(1, shapeText->size() - 2);
  std::stringstream ss(dims);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(" ") == std::string::npos)
      continue;
    shape.push_back(std::stoll(item));
  }
  HostTensor tensor(*dtype, shape);
  if (!in.read(static_cast<char *>(tensor.data()),
               static_cast<std::streamsize>(tensor.numBytes()))) {
    error = "'" + path + "': holds fewer bytes than its shape needs";
    return std::nullopt;
  }
  return tensor;
}

bool tessera::writeNpy(const std::string &path, const HostTensor &tensor,
                       std::string &error) {
  std::ostringstream dict;
  dict << "{'descr': '" << descrOf(tensor.dtype())
       << "', 'fortran_order': False, 'shape': (";
  for (int64_t d : tensor.shape())
    dict << d << ", ";
  dict << "), }";
  std::string header = dict.str();
  // Pad so that the data starts on a 64-byte boundary; the header ends with a
  // newline.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    error = "cannot write '" + path + "'";
    return false;
  }
  out.write("\x93NUMPY\x01\x00", 8);
  unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xFF),
                          static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<char *>(len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char *>(tensor.data()),
            static_cast<std::streamsize>(tensor.numBytes()));
  if (!out) {
    error = "failed writing '" + path + "'";
    return false;
  }
  return true;
}
