//===- RiceTest.cpp - Rice coding of int8 arrays --------------------------===//
//
// Round trips are bit-exact, the chosen k is the brute-force best, the length
// is the formula's, the stream is laid out as Rice.h documents, and truncated
// or corrupt input is refused with a reason (never read out of bounds: the
// ASan build runs these too).
//
//===----------------------------------------------------------------------===//
#include "tessera/Support/Rice.h"

#include <cmath>
#include <gtest/gtest.h>
#include <random>

using namespace tessera;
using namespace tessera::rice;

namespace {

/// Lattice-like coordinates: Gaussian of standard deviation `sigma`, rounded
/// and clamped to int8.
std::vector<int8_t> gaussianCodes(size_t n, double sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<int8_t> v(n);
  for (int8_t &x : v)
    x = static_cast<int8_t>(
        std::max(-128.0, std::min(127.0, std::round(normal(rng)))));
  return v;
}

/// The length of the codes from ALGORITHMS.md 4c's formula, written out.
uint64_t formulaBits(const std::vector<int8_t> &v, unsigned k) {
  uint64_t bits = 0;
  for (int8_t x : v) {
    int z = x >= 0 ? 2 * x : -2 * x - 1;
    bits += static_cast<uint64_t>((z >> k) + 1 + static_cast<int>(k));
  }
  return bits;
}

void expectRoundTrip(const std::vector<int8_t> &v) {
  Stream s = encode(v.data(), v.size());
  // The chosen k is the brute-force best (smallest on ties).
  unsigned best = 0;
  for (unsigned k = 1; k <= kMaxParameter; ++k)
    if (formulaBits(v, k) < formulaBits(v, best))
      best = k;
  EXPECT_EQ(s.k, best);
  EXPECT_EQ(s.count, v.size());
  EXPECT_EQ(s.bits, formulaBits(v, s.k));
  EXPECT_EQ(s.bytes.size(), (s.bits + 7) / 8);
  std::vector<int8_t> back;
  std::string error;
  ASSERT_TRUE(decode(s.bytes.data(), s.bytes.size(), s.k, s.count, back, error))
      << error;
  EXPECT_EQ(back, v);
  // Every k round-trips, not only the best.
  for (unsigned k = 0; k <= kMaxParameter; ++k) {
    Stream sk = encode(v.data(), v.size(), k);
    EXPECT_EQ(sk.bits, formulaBits(v, k));
    ASSERT_TRUE(
        decode(sk.bytes.data(), sk.bytes.size(), k, sk.count, back, error))
        << error;
    EXPECT_EQ(back, v) << "k = " << k;
  }
}

TEST(Rice, Zigzag) {
  EXPECT_EQ(zigzag(0), 0u);
  EXPECT_EQ(zigzag(-1), 1u);
  EXPECT_EQ(zigzag(1), 2u);
  EXPECT_EQ(zigzag(-2), 3u);
  EXPECT_EQ(zigzag(127), 254u);
  EXPECT_EQ(zigzag(-128), 255u);
  for (int v = -128; v <= 127; ++v)
    EXPECT_EQ(unzigzag(zigzag(v)), v);
}

// Gaussian-ish lattice coordinates at several spreads (k grows with sigma).
TEST(Rice, RoundTripGaussian) {
  uint64_t seed = 1;
  for (double sigma : {0.3, 1.0, 2.5, 6.0, 20.0, 60.0})
    for (size_t n : {1, 7, 8, 1000, 4099}) {
      SCOPED_TRACE("sigma " + std::to_string(sigma) + ", n " +
                   std::to_string(n));
      expectRoundTrip(gaussianCodes(n, sigma, seed++));
    }
}

TEST(Rice, RoundTripEdgeValues) {
  expectRoundTrip({});
  expectRoundTrip(std::vector<int8_t>(1000, 0));
  expectRoundTrip({-128});
  expectRoundTrip({127});
  expectRoundTrip({-128, 127, 0, -1, 1, -128, -128, 127});
  std::vector<int8_t> all;
  for (int v = -128; v <= 127; ++v)
    all.push_back(static_cast<int8_t>(v));
  expectRoundTrip(all);
}

// The documented layout: unary quotient (ones, then a zero), then k low bits
// LSB first, packed LSB-first, zero padding.
TEST(Rice, StreamLayout) {
  // v = -3 -> z = 5; with k = 1: quotient 2 -> bits 1,1,0 then remainder 1.
  // v = 2 -> z = 4: quotient 2 -> 1,1,0 then 0. Stream 1101 1100 -> 0x3B.
  std::vector<int8_t> v{-3, 2};
  Stream s = encode(v.data(), v.size(), 1);
  ASSERT_EQ(s.bytes.size(), 1u);
  EXPECT_EQ(s.bits, 8u);
  EXPECT_EQ(s.bytes[0], 0x3B);
  // Empty input: nothing at all.
  EXPECT_TRUE(encode(nullptr, 0).bytes.empty());
}

TEST(Rice, CorruptStreamsAreRefused) {
  std::vector<int8_t> v = gaussianCodes(100, 3.0, 99), back;
  Stream s = encode(v.data(), v.size());
  std::string error;
  // Truncated: every shorter prefix fails.
  for (size_t size = 0; size < s.bytes.size(); ++size) {
    EXPECT_FALSE(decode(s.bytes.data(), size, s.k, s.count, back, error))
        << size;
    EXPECT_NE(error.find("truncated rice stream"), std::string::npos) << error;
  }
  // Trailing data after the codes.
  std::vector<uint8_t> longer = s.bytes;
  longer.push_back(0);
  EXPECT_FALSE(decode(longer.data(), longer.size(), s.k, s.count, back, error));
  EXPECT_NE(error.find("trailing data"), std::string::npos) << error;
  // A quotient too long for int8: all ones.
  std::vector<uint8_t> ones(64, 0xFF);
  EXPECT_FALSE(decode(ones.data(), ones.size(), 2, 1, back, error));
  EXPECT_EQ(error, "corrupt rice stream: value 0 has a quotient above 63 (not "
                   "an int8 with k = 2)");
  // Non-zero padding: -3 with k = 1 is 4 bits (1101), padded with 4 zeros.
  std::vector<uint8_t> padded{0x0B | 0x80};
  EXPECT_FALSE(decode(padded.data(), padded.size(), 1, 1, back, error));
  EXPECT_EQ(error,
            "corrupt rice stream: the padding after the last code is not zero");
  padded[0] = 0x0B;
  ASSERT_TRUE(decode(padded.data(), padded.size(), 1, 1, back, error)) << error;
  EXPECT_EQ(back, std::vector<int8_t>{-3});
  // A count the stream cannot hold is refused before allocating for it.
  EXPECT_FALSE(decode(s.bytes.data(), s.bytes.size(), s.k, uint64_t(1) << 62,
                      back, error));
  EXPECT_NE(error.find("truncated rice stream"), std::string::npos) << error;
  EXPECT_FALSE(decode(s.bytes.data(), s.bytes.size(), 8, 1, back, error));
  EXPECT_EQ(error, "rice parameter k (8) must be in [0, 7]");
}

// Random bit flips never crash or read out of bounds: each decodes to
// something or is refused.
TEST(Rice, BitFlipsNeverCrash) {
  std::vector<int8_t> v = gaussianCodes(300, 4.0, 5), back;
  Stream s = encode(v.data(), v.size());
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<uint8_t> bytes = s.bytes;
    size_t bit = rng() % (bytes.size() * 8);
    bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    std::string error;
    if (decode(bytes.data(), bytes.size(), s.k, s.count, back, error))
      EXPECT_EQ(back.size(), v.size());
    else
      EXPECT_FALSE(error.empty());
  }
}

TEST(Rice, ContainerRoundTrip) {
  std::vector<int8_t> v = gaussianCodes(2 * 3 * 40, 2.0, 8), back;
  Stream s = encode(v.data(), v.size());
  std::vector<uint8_t> file = writeContainer(s, {2, 3, 40});
  ASSERT_EQ(file.size(), 24 + 8 * 3 + s.bytes.size());
  EXPECT_EQ(std::string(file.begin(), file.begin() + 4), "TRCE");
  EXPECT_EQ(file[4], 1);
  EXPECT_EQ(file[5], s.k);
  Stream read;
  std::vector<int64_t> shape;
  std::string error;
  ASSERT_TRUE(readContainer(file.data(), file.size(), read, shape, back, error))
      << error;
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 3, 40}));
  EXPECT_EQ(back, v);
  EXPECT_EQ(read.k, s.k);
  EXPECT_EQ(read.bits, s.bits);
  EXPECT_EQ(read.bytes, s.bytes);
  // An empty array.
  Stream empty = encode(nullptr, 0);
  std::vector<uint8_t> emptyFile = writeContainer(empty, {0, 4});
  ASSERT_TRUE(readContainer(emptyFile.data(), emptyFile.size(), read, shape,
                            back, error))
      << error;
  EXPECT_EQ(shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(back.empty());
}

TEST(Rice, CorruptContainersAreRefused) {
  std::vector<int8_t> v = gaussianCodes(64, 2.0, 9), back;
  std::vector<uint8_t> file = writeContainer(encode(v.data(), v.size()), {64});
  Stream s;
  std::vector<int64_t> shape;
  std::string error;
  auto refused = [&](std::vector<uint8_t> f) {
    EXPECT_FALSE(readContainer(f.data(), f.size(), s, shape, back, error));
    return error;
  };
  // Every truncation is refused.
  for (size_t size = 0; size < file.size(); ++size)
    EXPECT_FALSE(readContainer(file.data(), size, s, shape, back, error))
        << size;
  std::vector<uint8_t> f = file;
  f[0] = 'X';
  EXPECT_EQ(refused(f), "not a .rice file (bad magic or shorter than its "
                        "24-byte header)");
  f = file;
  f[4] = 2;
  EXPECT_EQ(refused(f), "unsupported .rice version 2 (expected 1)");
  f = file;
  f[5] = 9;
  EXPECT_EQ(refused(f), "corrupt .rice header: k (9) must be in [0, 7]");
  f = file;
  f[8] = 65; // count 65 against dims [64]
  EXPECT_EQ(refused(f), "corrupt .rice header: count (65) differs from the "
                        "product of the dims (64)");
  f = file;
  f.push_back(0);
  EXPECT_NE(refused(f).find("but the file has"), std::string::npos) << error;
  f = file;
  f[6] = 40; // rank 40
  EXPECT_EQ(refused(f), "corrupt .rice header: rank (40) must be at most 32");
}

} // namespace
