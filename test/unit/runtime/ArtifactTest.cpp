//===- ArtifactTest.cpp - .tsr artifacts: round trip and validation -------===//
#include "tessera-runtime/artifact.h"

#include "StatusGuard.h"
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <iterator>
#include <string>
#include <unistd.h>

namespace {

using tessera::test::Status;

/// A temporary file path removed at the end of the test.
struct TempPath {
  TempPath() {
    char name[] = "/tmp/tessera-artifact-XXXXXX";
    int fd = mkstemp(name);
    close(fd);
    path = name;
  }
  ~TempPath() { std::remove(path.c_str()); }
  std::string path;
};

const char kPtx80[] = ".version 8.0\n.target sm_80\n.address_size 64\n";
const char kCubin[] = "\x7f"
                      "ELF fake cubin bytes";

std::string writeSample(const std::string &path) {
  tsrt_artifact_builder b = nullptr;
  EXPECT_EQ(tsrt_status_code(tsrt_artifact_builder_create(&b)), TSRT_OK);
  EXPECT_EQ(tsrt_status_code(
                tsrt_artifact_builder_set_manifest(b, "entry decode\nend\n")),
            TSRT_OK);
  EXPECT_EQ(tsrt_status_code(tsrt_artifact_builder_add_image(
                b, "sm_80", TSRT_IMAGE_PTX, kPtx80, sizeof(kPtx80) - 1)),
            TSRT_OK);
  EXPECT_EQ(tsrt_status_code(tsrt_artifact_builder_add_image(
                b, "sm_90a", TSRT_IMAGE_CUBIN, kCubin, sizeof(kCubin) - 1)),
            TSRT_OK);
  Status dup(
      tsrt_artifact_builder_add_image(b, "sm_80", TSRT_IMAGE_PTX, kPtx80, 4));
  EXPECT_EQ(dup.message(), "the artifact already has a ptx image for sm_80");
  Status w(tsrt_artifact_builder_write_file(b, path.c_str()));
  EXPECT_EQ(w.code(), TSRT_OK) << w.message();
  tsrt_artifact_builder_free(b);
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Artifact, RoundTripsManifestAndImages) {
  TempPath file;
  writeSample(file.path);
  tsrt_artifact a = nullptr;
  Status r(tsrt_artifact_read_file(file.path.c_str(), &a));
  ASSERT_EQ(r.code(), TSRT_OK) << r.message();
  EXPECT_STREQ(tsrt_artifact_manifest(a), "entry decode\nend\n");
  ASSERT_EQ(tsrt_artifact_num_images(a), 2u);
  size_t index = 99;
  ASSERT_EQ(tsrt_status_code(
                tsrt_artifact_find_image(a, "sm_80", TSRT_IMAGE_CUBIN, &index)),
            TSRT_OK);
  const char *target = nullptr;
  tsrt_image_format format;
  const void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(tsrt_status_code(
                tsrt_artifact_image(a, index, &target, &format, &data, &size)),
            TSRT_OK);
  EXPECT_STREQ(target, "sm_80");
  EXPECT_EQ(format,
            TSRT_IMAGE_PTX); // the only sm_80 image, though cubin was preferred
  EXPECT_EQ(std::string(static_cast<const char *>(data), size), kPtx80);
  EXPECT_STREQ(static_cast<const char *>(data), kPtx80)
      << "PTX stays NUL-terminated";
  Status none(tsrt_artifact_find_image(a, "sm_100", TSRT_IMAGE_PTX, &index));
  EXPECT_EQ(none.message(),
            "the artifact has no image for sm_100 (it has: sm_80 (ptx), sm_90a "
            "(cubin))");
  tsrt_artifact_free(a);
}

TEST(Artifact, RejectsCorruptionTruncationAndOtherFormats) {
  TempPath file;
  std::string bytes = writeSample(file.path);
  tsrt_artifact a = nullptr;

  std::string flipped = bytes;
  flipped[bytes.size() - 3] ^= 0x20;
  Status corrupt(tsrt_artifact_read(flipped.data(), flipped.size(), &a));
  EXPECT_EQ(corrupt.message(),
            "artifact checksum mismatch: the file is corrupt");

  Status truncated(tsrt_artifact_read(bytes.data(), bytes.size() - 5, &a));
  EXPECT_EQ(truncated.code(), TSRT_INVALID_ARGUMENT);
  EXPECT_NE(truncated.message().find("truncated"), std::string::npos)
      << truncated.message();

  std::string newer = bytes;
  newer[4] = 2;
  Status version(tsrt_artifact_read(newer.data(), newer.size(), &a));
  EXPECT_EQ(
      version.message(),
      "artifact format version 2 is not supported (this runtime reads 1)");

  const char notTsr[] = "\x7f"
                        "ELF not an artifact at all, really";
  Status magic(tsrt_artifact_read(notTsr, sizeof(notTsr), &a));
  EXPECT_EQ(magic.message(), "not a .tsr artifact (bad magic or too short)");

  Status missing(tsrt_artifact_read_file("/nonexistent/model.tsr", &a));
  EXPECT_EQ(missing.message(), "cannot open '/nonexistent/model.tsr'");
  EXPECT_EQ(a, nullptr);
}

TEST(Artifact, BuilderNeedsAManifest) {
  TempPath file;
  tsrt_artifact_builder b = nullptr;
  ASSERT_EQ(tsrt_status_code(tsrt_artifact_builder_create(&b)), TSRT_OK);
  Status w(tsrt_artifact_builder_write_file(b, file.path.c_str()));
  EXPECT_EQ(w.message(), "the artifact has no manifest");
  tsrt_artifact_builder_free(b);
}

} // namespace
