/* Test helpers that edit a .sfm file and re-sign it as the writer does: what someone who edits a
 * model file by hand and recomputes its checksum hands us (test_snn, fuzz_sfm). */
#ifndef SF_TEST_SFM_RESIGN_H
#define SF_TEST_SFM_RESIGN_H
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A .sfm file [n] with section `tag` (4 chars) replaced by `text`, its checksum recomputed as the
 * writer does (SHA-256 of everything before HASH, then the source's SHA-256): what someone who
 * edits a model file and re-signs it hands us. Returns a malloc'ed buffer, its size in *out_n. */
static inline unsigned char *resigned_sfm(const unsigned char *f, size_t n, const char *tag, const char *text, size_t *out_n) {
  unsigned char *o = malloc(n + strlen(text) + 64), src_hash[32] = {0};
  size_t w = 8, off = 8;
  memcpy(o, f, 8);
  while (off + 12 <= n) {
    uint64_t len = 0;
    for (int b = 0; b < 8; b++) len |= (uint64_t)f[off + 4 + b] << (8 * b);
    const unsigned char *d = f + off + 12;
    if (!memcmp(f + off, "HASH", 4)) memcpy(src_hash, d + 32, 32);
    else {
      int swap = !memcmp(f + off, tag, 4);
      uint64_t nl = swap ? strlen(text) : len;
      memcpy(o + w, f + off, 4);
      for (int b = 0; b < 8; b++) o[w + 4 + b] = (unsigned char)(nl >> (8 * b));
      memcpy(o + w + 12, swap ? (const unsigned char *)text : d, nl);
      w += 12 + nl;
    }
    off += 12 + len;
  }
  unsigned char h[32];
  crypto_hash_sha256(h, o, w);
  memcpy(o + w, "HASH", 4);
  for (int b = 0; b < 8; b++) o[w + 4 + b] = (unsigned char)((uint64_t)64 >> (8 * b));
  memcpy(o + w + 12, h, 32);
  memcpy(o + w + 44, src_hash, 32);
  *out_n = w + 76;
  return o;
}

/* The text of section `tag` of a .sfm file (malloc'ed, NUL-terminated). */
static inline char *sfm_section(const unsigned char *f, size_t n, const char *tag) {
  for (size_t off = 8; off + 12 <= n;) {
    uint64_t len = 0;
    for (int b = 0; b < 8; b++) len |= (uint64_t)f[off + 4 + b] << (8 * b);
    if (!memcmp(f + off, tag, 4)) {
      char *t = malloc(len + 1);
      if (t) { memcpy(t, f + off + 12, len); t[len] = 0; }
      return t;
    }
    off += 12 + len;
  }
  return NULL;
}

#endif
