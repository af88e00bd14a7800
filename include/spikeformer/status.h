/* Status codes and error messages.
 * Every function that can fail returns sf_status (0 = SF_OK). On failure it leaves a message
 * (thread-local) that names what failed and where: file, node, byte offset. */
#ifndef SPIKEFORMER_STATUS_H
#define SPIKEFORMER_STATUS_H
#include "spikeformer/export.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SF_OK = 0,
  SF_ERR_IO = 1,          /* file missing, unreadable, unwritable */
  SF_ERR_FORMAT = 2,      /* malformed or truncated file */
  SF_ERR_UNSUPPORTED = 3, /* valid input we do not handle (unknown op, dtype) */
  SF_ERR_SHAPE = 4,       /* inconsistent shapes */
  SF_ERR_VALUE = 5,       /* bad value: NaN weight, out-of-range index */
  SF_ERR_ARG = 6,         /* bad argument from the caller / command line */
  SF_ERR_NOMEM = 7,       /* allocation failed */
  SF_ERR_INTERNAL = 8,
  SF_ERR_INTERRUPTED = 9  /* stopped on request (a signal); what was done is kept (a checkpoint) */
} sf_status;

/* Record an error message (printf-style) and return `code`. */
SF_API sf_status sf_error(sf_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with context ("X: ") and return `code`; a message that already
 * starts with "X:" is left as it is. */
SF_API sf_status sf_error_context(sf_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread ("" if none). */
SF_API const char *sf_last_error(void);
SF_API void sf_clear_error(void);
SF_API const char *sf_status_name(sf_status s);

#ifdef __cplusplus
}
#endif
#endif
