//===- Rice.cpp - Rice coding of int8 arrays ------------------------------===//
#include "tessera/Support/Rice.h"

#include <cstring>
#include <limits>

using namespace tessera;
using namespace tessera::rice;

uint64_t rice::encodedBits(const int8_t *values, size_t n, unsigned k) {
  uint64_t bits = 0;
  for (size_t i = 0; i < n; ++i)
    bits += codeLength(values[i], k);
  return bits;
}

unsigned rice::bestParameter(const int8_t *values, size_t n) {
  // One pass: a histogram of the zigzag values gives every k's total.
  uint64_t histogram[256] = {};
  for (size_t i = 0; i < n; ++i)
    ++histogram[zigzag(values[i])];
  unsigned best = 0;
  uint64_t bestBits = std::numeric_limits<uint64_t>::max();
  for (unsigned k = 0; k <= kMaxParameter; ++k) {
    uint64_t bits = 0;
    for (uint32_t z = 0; z < 256; ++z)
      bits += histogram[z] * ((z >> k) + 1 + k);
    if (bits < bestBits) {
      bestBits = bits;
      best = k;
    }
  }
  return best;
}

Stream rice::encode(const int8_t *values, size_t n) {
  return encode(values, n, bestParameter(values, n));
}

Stream rice::encode(const int8_t *values, size_t n, unsigned k) {
  Stream s;
  s.k = k;
  s.count = n;
  s.bits = encodedBits(values, n, k);
  s.bytes.assign(static_cast<size_t>((s.bits + 7) / 8), 0);
  uint64_t pos = 0;
  auto put = [&](unsigned bit) {
    s.bytes[static_cast<size_t>(pos >> 3)] |=
        static_cast<uint8_t>(bit << (pos & 7));
    ++pos;
  };
  for (size_t i = 0; i < n; ++i) {
    uint32_t z = zigzag(values[i]);
    for (uint32_t q = z >> k; q > 0; --q)
      put(1);
    put(0);
    for (unsigned b = 0; b < k; ++b)
      put((z >> b) & 1u);
  }
  return s;
}

bool rice::decode(const uint8_t *bytes, size_t size, unsigned k, uint64_t count,
                  std::vector<int8_t> &out, std::string &error) {
  out.clear();
  if (k > kMaxParameter) {
    error = "rice parameter k (" + std::to_string(k) + ") must be in [0, " +
            std::to_string(kMaxParameter) + "]";
    return false;
  }
  const uint64_t total = static_cast<uint64_t>(size) * 8;
  // Every code takes at least 1 + k bits: a count the stream cannot hold is
  // refused before anything is allocated for it.
  if (count > total / (1 + k)) {
    error = "truncated rice stream: " + std::to_string(count) +
            " values with k = " + std::to_string(k) + " need at least " +
            std::to_string(count * (1 + k)) + " bits, the stream has " +
            std::to_string(total);
    return false;
  }
  out.reserve(static_cast<size_t>(count));
  uint64_t pos = 0;
  auto bit = [&]() -> unsigned {
    unsigned b = (bytes[static_cast<size_t>(pos >> 3)] >> (pos & 7)) & 1u;
    ++pos;
    return b;
  };
  const uint32_t maxQuotient = 255u >> k;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t q = 0;
    for (;;) {
      if (pos >= total) {
        error = "truncated rice stream: value " + std::to_string(i) + " of " +
                std::to_string(count) + " runs past the end (" +
                std::to_string(total) + " bits)";
        return false;
      }
      if (!bit())
        break;
      if (++q > maxQuotient) {
        error = "corrupt rice stream: value " + std::to_string(i) +
                " has a quotient above " + std::to_string(maxQuotient) +
                " (not an int8 with k = " + std::to_string(k) + ")";
        return false;
      }
    }
    if (total - pos < k) {
      error = "truncated rice stream: value " + std::to_string(i) + " of " +
              std::to_string(count) + " runs past the end (" +
              std::to_string(total) + " bits)";
      return false;
    }
    uint32_t z = q << k;
    for (unsigned b = 0; b < k; ++b)
      z |= bit() << b;
    out.push_back(static_cast<int8_t>(unzigzag(z)));
  }
  if ((pos + 7) / 8 != size) {
    error = "corrupt rice stream: " + std::to_string(size) +
            " bytes hold codes of " + std::to_string(pos) +
            " bits and trailing data";
    return false;
  }
  while (pos < total)
    if (bit()) {
      error = "corrupt rice stream: the padding after the last code is not "
              "zero";
      return false;
    }
  return true;
}

namespace {

constexpr char kMagic[4] = {'T', 'R', 'C', 'E'};
constexpr uint8_t kVersion = 1;
constexpr uint16_t kMaxRank = 32;
constexpr size_t kHeader = 24;

void putLE(std::vector<uint8_t> &out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t getLE(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

} // namespace

std::vector<uint8_t> rice::writeContainer(const Stream &stream,
                                          const std::vector<int64_t> &shape) {
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  out.push_back(kVersion);
  out.push_back(static_cast<uint8_t>(stream.k));
  putLE(out, shape.size(), 2);
  putLE(out, stream.count, 8);
  putLE(out, stream.bytes.size(), 8);
  for (int64_t d : shape)
    putLE(out, static_cast<uint64_t>(d), 8);
  out.insert(out.end(), stream.bytes.begin(), stream.bytes.end());
  return out;
}

bool rice::readContainer(const uint8_t *data, size_t size, Stream &stream,
                         std::vector<int64_t> &shape,
                         std::vector<int8_t> &values, std::string &error) {
  if (size < kHeader || std::memcmp(data, kMagic, 4) != 0) {
    error = "not a .rice file (bad magic or shorter than its " +
            std::to_string(kHeader) + "-byte header)";
    return false;
  }
  if (data[4] != kVersion) {
    error = "unsupported .rice version " + std::to_string(data[4]) +
            " (expected " + std::to_string(kVersion) + ")";
    return false;
  }
  stream.k = data[5];
  if (stream.k > kMaxParameter) {
    error = "corrupt .rice header: k (" + std::to_string(stream.k) +
            ") must be in [0, " + std::to_string(kMaxParameter) + "]";
    return false;
  }
  uint64_t rank = getLE(data + 6, 2);
  stream.count = getLE(data + 8, 8);
  uint64_t payload = getLE(data + 16, 8);
  if (rank > kMaxRank) {
    error = "corrupt .rice header: rank (" + std::to_string(rank) +
            ") must be at most " + std::to_string(kMaxRank);
    return false;
  }
  uint64_t headerBytes = kHeader + 8 * rank;
  if (size < headerBytes || payload != size - headerBytes) {
    error = "corrupt .rice file: the header says " + std::to_string(rank) +
            " dims and " + std::to_string(payload) +
            " payload bytes, but the file has " + std::to_string(size) +
            " bytes";
    return false;
  }
  shape.clear();
  uint64_t elements = 1;
  for (uint64_t i = 0; i < rank; ++i) {
    uint64_t d = getLE(data + kHeader + 8 * i, 8);
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (d != 0 && elements > std::numeric_limits<uint64_t>::max() / d)) {
      error = "corrupt .rice header: dim " + std::to_string(i) + " (" +
              std::to_string(d) + ") is out of range";
      return false;
    }
    elements *= d;
    shape.push_back(static_cast<int64_t>(d));
  }
  if (elements != stream.count) {
    error = "corrupt .rice header: count (" + std::to_string(stream.count) +
            ") differs from the product of the dims (" +
            std::to_string(elements) + ")";
    return false;
  }
  const uint8_t *bytes = data + headerBytes;
  stream.bytes.assign(bytes, bytes + payload);
  if (!decode(bytes, static_cast<size_t>(payload), stream.k, stream.count,
              values, error))
    return false;
  stream.bits = encodedBits(values.data(), values.size(), stream.k);
  return true;
}
