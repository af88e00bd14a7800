/* SF_API marks what libspikeformer exports. The library is built with -fvisibility=hidden, so the
 * shared object exports exactly the functions declared in include/spikeformer/ (tests/api_exports.sh
 * checks it) and nothing of its internals (the ONNX parser, kernels, passes). */
#ifndef SPIKEFORMER_EXPORT_H
#define SPIKEFORMER_EXPORT_H

#if defined(_WIN32)
#define SF_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define SF_API __attribute__((visibility("default")))
#else
#define SF_API
#endif

#endif
