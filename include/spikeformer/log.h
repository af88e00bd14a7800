/* Leveled logging to stderr. Level from sf_log_set_level() or the SF_LOG environment variable
 * (error, warn, info, debug). */
#ifndef SPIKEFORMER_LOG_H
#define SPIKEFORMER_LOG_H
#include "spikeformer/export.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SF_LOG_ERROR = 0, SF_LOG_WARN = 1, SF_LOG_INFO = 2, SF_LOG_DEBUG = 3 } sf_log_level;

SF_API void sf_log_set_level(sf_log_level level);
SF_API sf_log_level sf_log_get_level(void);
SF_API int sf_log_parse_level(const char *name, sf_log_level *out); /* 0 on success */
SF_API void sf_log(sf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SF_LOGE(...) sf_log(SF_LOG_ERROR, __VA_ARGS__)
#define SF_LOGW(...) sf_log(SF_LOG_WARN, __VA_ARGS__)
#define SF_LOGI(...) sf_log(SF_LOG_INFO, __VA_ARGS__)
#define SF_LOGD(...) sf_log(SF_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
