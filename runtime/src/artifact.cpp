//===- artifact.cpp - Reading and writing .tsr artifacts ------------------===//
//
// Layout (little-endian): a 24-byte header -- magic "TSR\0", u32 format
// version, u64 payload size, u64 FNV-1a-64 checksum of the payload -- then the
// payload, a sequence of sections:
//   u32 kind (1 manifest, 2 image), u32 format (tsrt_image_format; 0 for the
//   manifest), u32 target length, target bytes, u64 data length, data bytes.
// Exactly one manifest section; any number of images, at most one per (target,
// format).
//
//===----------------------------------------------------------------------===//
#include "tessera-runtime/artifact.h"
#include "status.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using tsrt::makeStatus;

namespace {

constexpr char kMagic[4] = {'T', 'S', 'R', '\0'};
constexpr size_t kHeaderSize = 24;
constexpr uint32_t kManifest = 1, kImage = 2;

uint64_t fnv1a(const unsigned char *data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct Image {
  std::string target;
  tsrt_image_format format;
  std::string data; // PTX stays NUL-terminated through std::string::c_str()
};

void put32(std::string &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put64(std::string &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

/// Reads little-endian integers from a byte range, remembering whether it ran
/// out.
struct Reader {
  const unsigned char *p, *end;
  bool ok = true;
  uint64_t get(int bytes) {
    if (end - p < bytes) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(p[i]) << (8 * i);
    p += bytes;
    return v;
  }
  std::string bytes(uint64_t n) {
    if (static_cast<uint64_t>(end - p) < n) {
      ok = false;
      return {};
    }
    std::string s(reinterpret_cast<const char *>(p), n);
    p += n;
    return s;
  }
};

const char *formatName(tsrt_image_format f) {
  return f == TSRT_IMAGE_PTX ? "ptx" : "cubin";
}

} // namespace

struct tsrt_artifact_impl {
  std::string manifest;
  std::vector<Image> images;
};

struct tsrt_artifact_builder_impl {
  std::string manifest;
  bool hasManifest = false;
  std::vector<Image> images;
};

extern "C" {

tsrt_status tsrt_artifact_read(const void *bytes, size_t size,
                               tsrt_artifact *out) {
  if (!bytes || !out)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_artifact_read: NULL argument");
  *out = nullptr;
  const auto *data = static_cast<const unsigned char *>(bytes);
  if (size < kHeaderSize || std::memcmp(data, kMagic, 4) != 0)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "not a .tsr artifact (bad magic or too short)");
  Reader header{data + 4, data + kHeaderSize};
  uint32_t version = static_cast<uint32_t>(header.get(4));
  uint64_t payloadSize = header.get(8), checksum = header.get(8);
  if (version != TSRT_ARTIFACT_VERSION)
    return makeStatus(
        TSRT_INVALID_ARGUMENT,
        "artifact format version %u is not supported (this runtime reads %d)",
        version, TSRT_ARTIFACT_VERSION);
  if (payloadSize != size - kHeaderSize)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "artifact is truncated or padded: header says %llu "
                      "payload bytes, file has "
                      "%zu",
                      static_cast<unsigned long long>(payloadSize),
                      size - kHeaderSize);
  if (fnv1a(data + kHeaderSize, payloadSize) != checksum)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "artifact checksum mismatch: the file is corrupt");

  auto artifact = std::unique_ptr<tsrt_artifact_impl>(new (std::nothrow)
                                                          tsrt_artifact_impl());
  if (!artifact)
    return makeStatus(TSRT_OUT_OF_MEMORY, "out of host memory");
  Reader r{data + kHeaderSize, data + size};
  int manifests = 0;
  while (r.ok && r.p < r.end) {
    uint32_t kind = static_cast<uint32_t>(r.get(4));
    uint32_t format = static_cast<uint32_t>(r.get(4));
    std::string target = r.bytes(r.get(4));
    std::string payload = r.bytes(r.get(8));
    if (!r.ok)
      break;
    if (kind == kManifest) {
      ++manifests;
      artifact->manifest = std::move(payload);
    } else if (kind == kImage && format <= TSRT_IMAGE_CUBIN &&
               !target.empty()) {
      artifact->images.push_back({std::move(target),
                                  static_cast<tsrt_image_format>(format),
                                  std::move(payload)});
    } else {
      return makeStatus(TSRT_INVALID_ARGUMENT,
                        "artifact has a malformed section (kind %u)", kind);
    }
  }
  if (!r.ok)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "artifact section runs past the end of the file");
  if (manifests != 1)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "artifact has %d manifests (expected 1)", manifests);
  *out = artifact.release();
  return nullptr;
}

tsrt_status tsrt_artifact_read_file(const char *path, tsrt_artifact *out) {
  if (!path || !out)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_artifact_read_file: NULL argument");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeStatus(TSRT_INVALID_ARGUMENT, "cannot open '%s'", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string bytes = buffer.str();
  tsrt_status s = tsrt_artifact_read(bytes.data(), bytes.size(), out);
  if (!s)
    return nullptr;
  tsrt_status located =
      makeStatus(tsrt_status_code(s), "'%s': %s", path, tsrt_status_message(s));
  tsrt_status_free(s);
  return located;
}

void tsrt_artifact_free(tsrt_artifact artifact) { delete artifact; }

const char *tsrt_artifact_manifest(tsrt_artifact artifact) {
  return artifact ? artifact->manifest.c_str() : "";
}

size_t tsrt_artifact_num_images(tsrt_artifact artifact) {
  return artifact ? artifact->images.size() : 0;
}

tsrt_status tsrt_artifact_image(tsrt_artifact artifact, size_t index,
                                const char **target, tsrt_image_format *format,
                                const void **data, size_t *size) {
  if (!artifact || !target || !format || !data || !size)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_artifact_image: NULL argument");
  if (index >= artifact->images.size())
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "image %zu out of range (the artifact has %zu)", index,
                      artifact->images.size());
  const Image &img = artifact->images[index];
  *target = img.target.c_str();
  *format = img.format;
  *data = img.data.c_str();
  *size = img.data.size();
  return nullptr;
}

tsrt_status tsrt_artifact_find_image(tsrt_artifact artifact, const char *target,
                                     tsrt_image_format format, size_t *index) {
  if (!artifact || !target || !index)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_artifact_find_image: NULL argument");
  size_t found = artifact->images.size();
  for (size_t i = 0; i < artifact->images.size(); ++i)
    if (artifact->images[i].target == target &&
        (found == artifact->images.size() ||
         artifact->images[i].format == format))
      found = i;
  if (found < artifact->images.size()) {
    *index = found;
    return nullptr;
  }
  std::string present;
  for (const Image &img : artifact->images)
    present += (present.empty() ? "" : ", ") + img.target + " (" +
               formatName(img.format) + ")";
  return makeStatus(TSRT_INVALID_ARGUMENT,
                    "the artifact has no image for %s (it has: %s)", target,
                    present.empty() ? "none" : present.c_str());
}

tsrt_status tsrt_artifact_builder_create(tsrt_artifact_builder *out) {
  if (!out)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_artifact_builder_create: out is NULL");
  *out = new (std::nothrow) tsrt_artifact_builder_impl();
  return *out ? nullptr : makeStatus(TSRT_OUT_OF_MEMORY, "out of host memory");
}

void tsrt_artifact_builder_free(tsrt_artifact_builder builder) {
  delete builder;
}

tsrt_status tsrt_artifact_builder_set_manifest(tsrt_artifact_builder builder,
                                               const char *text) {
  if (!builder || !text)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_artifact_builder_set_manifest: NULL argument");
  builder->manifest = text;
  builder->hasManifest = true;
  return nullptr;
}

tsrt_status tsrt_artifact_builder_add_image(tsrt_artifact_builder builder,
                                            const char *target,
                                            tsrt_image_format format,
                                            const void *data, size_t size) {
  if (!builder || !target || !*target || !data || size == 0 ||
      format > TSRT_IMAGE_CUBIN)
    return makeStatus(
        TSRT_INVALID_ARGUMENT,
        "tsrt_artifact_builder_add_image: NULL, empty or unknown argument");
  for (const Image &img : builder->images)
    if (img.target == target && img.format == format)
      return makeStatus(TSRT_INVALID_ARGUMENT,
                        "the artifact already has a %s image for %s",
                        formatName(format), target);
  builder->images.push_back(
      {target, format, std::string(static_cast<const char *>(data), size)});
  return nullptr;
}

tsrt_status tsrt_artifact_builder_write_file(tsrt_artifact_builder builder,
                                             const char *path) {
  if (!builder || !path)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_artifact_builder_write_file: NULL argument");
  if (!builder->hasManifest)
    return makeStatus(TSRT_INVALID_ARGUMENT, "the artifact has no manifest");
  std::string payload;
  auto section = [&](uint32_t kind, uint32_t format, const std::string &target,
                     const std::string &data) {
    put32(payload, kind);
    put32(payload, format);
    put32(payload, static_cast<uint32_t>(target.size()));
    payload += target;
    put64(payload, data.size());
    payload += data;
  };
  section(kManifest, 0, "", builder->manifest);
  for (const Image &img : builder->images)
    section(kImage, img.format, img.target, img.data);
  std::string file(kMagic, 4);
  put32(file, TSRT_ARTIFACT_VERSION);
  put64(file, payload.size());
  put64(file, fnv1a(reinterpret_cast<const unsigned char *>(payload.data()),
                    payload.size()));
  file += payload;

  std::string tmp = std::string(path) + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
    if (!out)
      return makeStatus(TSRT_INVALID_ARGUMENT, "cannot write '%s'",
                        tmp.c_str());
  }
  if (std::rename(tmp.c_str(), path) != 0) {
    std::remove(tmp.c_str());
    return makeStatus(TSRT_INVALID_ARGUMENT, "cannot rename '%s' to '%s'",
                      tmp.c_str(), path);
  }
  return nullptr;
}

} // extern "C"
