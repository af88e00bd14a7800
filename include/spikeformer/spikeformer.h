/* libspikeformer: convert pre-trained transformers into spiking neural networks and run them.
 * Umbrella header. */
#ifndef SPIKEFORMER_H
#define SPIKEFORMER_H
#include "spikeformer/export.h"
#include "spikeformer/analyze.h"
#include "spikeformer/backend.h"
#include "spikeformer/backend_cpu.h"
#include "spikeformer/loihi2.h"
#include "spikeformer/batcher.h"
#include "spikeformer/convert.h"
#include "spikeformer/energy.h"
#include "spikeformer/eval.h"
#include "spikeformer/infer.h"
#include "spikeformer/optimize.h"
#include "spikeformer/report.h"
#include "spikeformer/train.h"
#include "spikeformer/snn.h"
#include "spikeformer/validate.h"
#include "spikeformer/config.h"
#include "spikeformer/cpu.h"
#include "spikeformer/dist.h"
#include "spikeformer/dataset.h"
#include "spikeformer/graph.h"
#include "spikeformer/log.h"
#include "spikeformer/npy.h"
#include "spikeformer/rng.h"
#include "spikeformer/session.h"
#include "spikeformer/spike_tensor.h"
#include "spikeformer/status.h"
#include "spikeformer/tensor.h"
#include "spikeformer/tensor_io.h"
#include "spikeformer/mlflow.h"
#include "spikeformer/nir.h"
#include "spikeformer/threads.h"

#ifdef __cplusplus
extern "C" {
#endif
SF_API const char *sf_version(void);
#ifdef __cplusplus
}
#endif
#endif
