/* Performance Dashboard: one self-contained HTML file (inline SVG, no scripts, nothing loaded from
 * the network) from an evaluation with profile and raster (sf_eval_snn with o.profile = 1 and
 * o.backend_options.raster_neurons > 0): accuracy vs T (SNN and ANN), per-layer firing rates,
 * energy per layer and per energy model, a spike raster of one input, and the optimizer's Pareto
 * front (from `optimize --json`, or this model's energy and accuracy over T). */
#ifndef SPIKEFORMER_REPORT_H
#define SPIKEFORMER_REPORT_H
#include "spikeformer/export.h"
#include "spikeformer/eval.h"
#ifdef __cplusplus
extern "C" {
#endif

#define SF_REPORT_RASTER_NEURONS 24

/* The evaluation sf_report_html expects, on `data`: profile, raster, at T (0: the model's). */
SF_API sf_status sf_report_evaluate(const sf_snn_model *m, const char *name, const sf_dataset *data, int T, sf_progress_fn progress, void *progress_user,
                                    sf_eval_result **out);
/* Write the dashboard for r to html_path (atomically). optimize_json: a file `optimize --json`
 * wrote, or NULL. */
SF_API sf_status sf_report_html(const sf_eval_result *r, const char *optimize_json, const char *html_path);

#ifdef __cplusplus
}
#endif
#endif
