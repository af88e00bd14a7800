/* Inference on given inputs (what `spikeformer run` does, for every front end).
 *   sf_infer             an ANN on inputs given by name or in graph order: values are cast to the
 *                        input's dtype (a float file for an integer input must hold whole numbers),
 *                        a missing attention_mask is all ones shaped like input_ids, and token
 *                        sequences longer than the model's position table are refused by length
 *   sf_infer_snn         a converted model for T steps through a backend: the decoded first output
 *   sf_infer_snn_frames  the same on clips [batch, T, the input's shape], frame t at step t */
#ifndef SPIKEFORMER_INFER_H
#define SPIKEFORMER_INFER_H
#include "spikeformer/export.h"
#include "spikeformer/backend.h"
#include "spikeformer/graph.h"
#ifdef __cplusplus
extern "C" {
#endif

/* names[i] (names or names[i] may be NULL: the next graph input without a value, in order) takes
 * values[i]; origins[i] (may be NULL) says where it came from (a file), for error messages. The
 * values are read, never kept. outputs: *n_outputs tensors (= sf_graph_num_outputs), allocated by
 * the call: free each with sf_tensor_free and the array with sf_infer_outputs_free. A model of
 * constants takes no inputs (n_given 0). */
SF_API sf_status sf_infer(const sf_graph *g, int n_given, const char *const *names, const sf_tensor *values, const char *const *origins,
                          sf_tensor **outputs, int *n_outputs);
SF_API void sf_infer_outputs_free(sf_tensor *outputs, int n);

/* x [batch, the model's input shape] (cast to float32 if needed); out receives the decoded first
 * output after T steps (T <= 0: the model's), allocated [batch, ...]: under rate coding the
 * accumulated membrane potential / T, under delta coding its sum. backend NULL: "cpu";
 * o NULL: the defaults. */
SF_API sf_status sf_infer_snn(const sf_snn_model *m, const char *backend, const sf_backend_options *o, const sf_tensor *x, int T, sf_tensor *out);
/* clips [batch, T, the input's shape after the batch] float32 (direct encoding): out as above after
 * the clips' T frames. */
SF_API sf_status sf_infer_snn_frames(const sf_snn_model *m, const char *backend, const sf_backend_options *o, const sf_tensor *clips, sf_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
