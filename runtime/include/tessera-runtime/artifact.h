/*===- tessera-runtime/artifact.h - .tsr artifacts ----------------*- C -*-===
 *
 * A .tsr file is one self-describing, versioned, checksummed container for a
 * module compiled for NVIDIA GPUs: a manifest (the entries' signatures, their
 * host-side schedule of kernel launches and launch configurations;
 * docs/tsr-format.md) and each kernel module's image per target (PTX text or
 * cubin). The runtime reads it without LLVM; tessera-compile writes it. Same
 * conventions as runtime.h: statuses, opaque handles, caller frees.
 *===----------------------------------------------------------------------===*/
#ifndef TESSERA_RUNTIME_ARTIFACT_H
#define TESSERA_RUNTIME_ARTIFACT_H

#include "tessera-runtime/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The container format version this runtime reads and writes. */
#define TSRT_ARTIFACT_VERSION 1

typedef enum tsrt_image_format {
  TSRT_IMAGE_PTX = 0,
  TSRT_IMAGE_CUBIN = 1,
} tsrt_image_format;

typedef struct tsrt_artifact_impl *tsrt_artifact;

/** Parses and validates (magic, version, size, checksum, section bounds) `size`
 * bytes; the artifact keeps its own copy. Free it with tsrt_artifact_free. */
TSRT_API tsrt_status tsrt_artifact_read(const void *bytes, size_t size,
                                        tsrt_artifact *out);
TSRT_API tsrt_status tsrt_artifact_read_file(const char *path,
                                             tsrt_artifact *out);
TSRT_API void tsrt_artifact_free(tsrt_artifact artifact);

/** The manifest text (NUL-terminated, valid while the artifact lives). */
TSRT_API const char *tsrt_artifact_manifest(tsrt_artifact artifact);
/** Number of images, and image `index`: its target ("sm_80", "sm_90a", ...),
 * format and bytes (valid while the artifact lives; PTX is NUL-terminated). */
TSRT_API size_t tsrt_artifact_num_images(tsrt_artifact artifact);
TSRT_API tsrt_status tsrt_artifact_image(tsrt_artifact artifact, size_t index,
                                         const char **target,
                                         tsrt_image_format *format,
                                         const void **data, size_t *size);
/** The image for `target`, preferring `format` when both exist;
 * TSRT_INVALID_ARGUMENT with the targets present when there is none. */
TSRT_API tsrt_status tsrt_artifact_find_image(tsrt_artifact artifact,
                                              const char *target,
                                              tsrt_image_format format,
                                              size_t *index);

/** Builds an artifact and writes it to a file. */
typedef struct tsrt_artifact_builder_impl *tsrt_artifact_builder;
TSRT_API tsrt_status tsrt_artifact_builder_create(tsrt_artifact_builder *out);
TSRT_API void tsrt_artifact_builder_free(tsrt_artifact_builder builder);
TSRT_API tsrt_status tsrt_artifact_builder_set_manifest(
    tsrt_artifact_builder builder, const char *text);
TSRT_API tsrt_status tsrt_artifact_builder_add_image(
    tsrt_artifact_builder builder, const char *target, tsrt_image_format format,
    const void *data, size_t size);
/** Writes the artifact atomically (a temporary file renamed over `path`). */
TSRT_API tsrt_status tsrt_artifact_builder_write_file(
    tsrt_artifact_builder builder, const char *path);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_RUNTIME_ARTIFACT_H */
