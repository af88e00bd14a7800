/* spikeformer report OUT.sfm --data DIR --timesteps T [--limit N] [--optimize FILE.json] -o FILE.html
 * Performance Dashboard: one self-contained HTML file (inline SVG, no scripts, nothing loaded from
 * the network) with accuracy vs T (SNN and ANN), per-layer firing rates, energy per layer and per
 * model, a spike raster of one input, and the optimizer's Pareto front. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "graph/graph.h"
#include "spikeformer/energy.h"
#include "tools/cli.h"
#include "tools/html_charts.h"

#define RASTER_NEURONS 24
#define RASTER_LAYERS 4

int cmd_report(int argc, char **argv) {
  const char *model = NULL, *data = SF_DEFAULT_DATA_DIR, *out = NULL, *optjson = NULL, *v;
  int64_t limit = 1000, T = 0, batch = 256;
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
      printf("usage: spikeformer report OUT.sfm [--data DIR] [--timesteps T] [--limit N] [--optimize FILE.json] -o FILE.html\n\n"
             "Writes a self-contained HTML dashboard: accuracy vs T (SNN and ANN), per-layer firing rates,\n"
             "energy per layer and per energy model, a spike raster of one test image, and the Pareto front\n"
             "from 'spikeformer optimize --json FILE' (or, without it, this model's energy/accuracy over T).\n");
      return 0;
    }
    if (cli_common(argc, argv, &i)) continue;
    if (cli_opt(argc, argv, &i, "--data", &v)) { data = v; continue; }
    if (cli_opt(argc, argv, &i, "-o", &v) || cli_opt(argc, argv, &i, "--output", &v)) { out = v; continue; }
    if (cli_opt(argc, argv, &i, "--optimize", &v)) { optjson = v; continue; }
    if (cli_opt(argc, argv, &i, "--limit", &v)) { if (cli_parse_i64(v, 1, INT64_MAX, &limit)) return cli_usage_error("report", "--limit needs a positive number"); continue; }
    if (cli_opt(argc, argv, &i, "--timesteps", &v)) { if (cli_parse_i64(v, 1, 4096, &T)) return cli_usage_error("report", "--timesteps needs a whole number from 1 to 4096"); continue; }
    if (argv[i][0] == '-') return cli_usage_error("report", "unknown option '%s'", argv[i]);
    model = argv[i];
  }
  if (!model) return cli_usage_error("report", "missing OUT.sfm");
  if (!out) return cli_usage_error("report", "missing -o FILE.html");
  sf_status wst = cli_outputs_writable((const char *[]){out}, 1);
  if (wst) return cli_fail(wst);
  if (!cli_is_sfm(model)) return cli_fail(sf_error(SF_ERR_ARG, "%s: report needs a converted model (.sfm)", model));
  sf_snn_model *m = NULL;
  sf_dataset ds = {0};
  sf_energy_model *em = NULL;
  int n_em = 0;
  int64_t *correct = NULL, ann_correct = 0;
  sf_graph *gs[2] = {NULL, NULL};
  sf_snn_session *ss[2] = {NULL, NULL};
  int n_s = 0;
  sf_session *ann = NULL;
  cJSON *opt = NULL;
  sf_outfile of = {0};
  sf_status st = sf_snn_model_load(model, &m);
  if (st) return cli_fail(st);
  if (!T) T = sf_snn_model_options(m)->snn.timesteps;
  if ((st = sf_dataset_load(data, SF_SPLIT_TEST, limit, &ds)) || (st = cli_labels_fit(&ds, cli_snn_classes(m), model)) ||
      (st = sf_energy_models_load(NULL, &em, &n_em)))
    goto done;
  if (optjson) {
    char *text;
    size_t n;
    if ((st = sf_read_file(optjson, &text, &n))) goto done;
    opt = cJSON_Parse(text);
    free(text);
    if (!opt || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(opt, "points"))) { st = sf_error(SF_ERR_FORMAT, "%s: not an optimize --json file", optjson); goto done; }
    int k = 0;
    for (const cJSON *p = cJSON_GetObjectItemCaseSensitive(opt, "points")->child; p; p = p->next, k++) {
      const cJSON *e = cJSON_GetObjectItemCaseSensitive(p, "energy_ratio"), *d = cJSON_GetObjectItemCaseSensitive(p, "drop_points");
      if (!cJSON_IsNumber(e) || !cJSON_IsNumber(d) || !isfinite(e->valuedouble) || !isfinite(d->valuedouble)) {
        st = sf_error(SF_ERR_FORMAT, "%s: point %d lacks a finite energy_ratio and drop_points", optjson, k);
        goto done;
      }
    }
  }
  correct = calloc((size_t)T, sizeof(int64_t));
  if (!correct) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  const sf_graph *src = sf_snn_model_source(m);
  if ((st = sf_session_create(src, NULL, &ann))) goto done;
  sf_spiking_config cfg = sf_snn_model_options(m)->snn;
  cfg.spike_encoding = SF_ENCODE_DIRECT;
  int64_t cur = 0;
  int cur_s = -1;
  for (int64_t start = 0; start < ds.n; start += batch) {
    int64_t cnt = ds.n - start < batch ? ds.n - start : batch;
    if (cnt != cur) {
      if (n_s == 2) { st = sf_error(SF_ERR_INTERNAL, "unexpected batch size"); goto done; }
      if ((st = sf_snn_model_build(m, cnt, &gs[n_s])) || (st = sf_snn_session_create(gs[n_s], &cfg, SF_DECODE_MEMBRANE, &ss[n_s]))) goto done;
      if (n_s == 0 && (st = sf_snn_record_raster(ss[0], RASTER_NEURONS, (int)T))) goto done;
      cur_s = n_s++;
      cur = cnt;
    }
    sf_tensor x = sf_dataset_batch(&ds, start, cnt), o[8] = {{0}};
    if (sf_graph_input_desc(src, 0).ndim == 2) { x.ndim = 2; x.shape[1] = ds.c * ds.h * ds.w; }
    if ((st = sf_session_run(ann, &x, o))) goto done;
    ann_correct += cli_count_correct(&o[0], ds.labels + start, cnt);
    for (int k = 0; k < sf_graph_num_outputs(src) && k < 8; k++) sf_tensor_free(&o[k]);
    cli_acc_ctx rc = {ds.labels + start, cnt, correct, NULL, 0, 0};
    if ((st = sf_snn_run(ss[cur_s], &x, (int)T, cli_acc_step, &rc))) goto done;
  }
  int nn = sf_snn_num_nodes(ss[0]);
  double ann_acc = (double)ann_correct / (double)ds.n;
  sf_op_counts annc;
  if ((st = sf_energy_ann_counts(src, &annc))) goto done;
  if ((st = sf_outfile_open(&of, out))) goto done;
  FILE *f = of.f;
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>SpikeFormer report</title>\n<style>\n"
             "body{font-family:sans-serif;margin:24px;color:#222;max-width:980px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}"
             "td.l{text-align:left}.chart{background:#fff;border:1px solid #ddd}.title{font-size:14px;font-weight:bold}.label,.legend{font-size:12px}"
             ".tick{font-size:10px;fill:#555}.axis{stroke:#333}.grid{stroke:#eee}.note{color:#555;font-size:13px}figure{margin:8px 0}\n"
             "</style></head><body>\n<h1>SpikeFormer report: ");
  html_text(f, model);
  fprintf(f, "</h1>\n<p class=\"note\">Source model: ");
  html_text(f, src->source);
  fprintf(f, " (SHA-256 %s). %s neurons, %s thresholds, %lld test images from ", sf_snn_model_source_sha256(m),
          sf_neuron_model_name(sf_snn_model_options(m)->snn.neuron_model), sf_policy_name(sf_snn_model_options(m)->policy), (long long)ds.n);
  html_text(f, ds.source);
  fprintf(f, ". Generated by spikeformer %s; this file loads nothing from the network.</p>\n", sf_version());
  /* 1. accuracy vs T */
  double *xs = malloc(sizeof(double) * (size_t)T), *ya = malloc(sizeof(double) * (size_t)T), *yb = malloc(sizeof(double) * (size_t)T);
  for (int64_t t = 0; t < T; t++) { xs[t] = (double)(t + 1); ya[t] = 100.0 * (double)correct[t] / (double)ds.n; yb[t] = 100.0 * ann_acc; }
  fprintf(f, "<h2>Accuracy vs timesteps</h2>\n");
  const double *series[2] = {ya, yb};
  const char *names[2] = {"SNN (accuracy after t steps)", "ANN"};
  int dashed[2] = {0, 1};
  chart_spec c1 = {"chart-accuracy", "Accuracy vs T", "timesteps T", "accuracy (%)", 0};
  svg_lines(f, &c1, xs, series, 2, (int)T, names, dashed);
  fprintf(f, "<p class=\"note\">ANN %.2f%%; SNN at T=%lld %.2f%% (%+.2f points).</p>\n", 100 * ann_acc, (long long)T, ya[T - 1], ya[T - 1] - 100 * ann_acc);
  /* 2. firing rates; 3. energy per layer; collect */
  const char **lnames = calloc((size_t)nn, sizeof(char *)), **enames = calloc((size_t)nn, sizeof(char *));
  double *rates = calloc((size_t)nn, sizeof(double)), *elayer = calloc((size_t)nn, sizeof(double));
  double *snn_pj = calloc((size_t)n_em, sizeof(double)), *ann_pj = calloc((size_t)n_em, sizeof(double));
  int nr = 0, ne = 0, e45 = 0;
  for (int k = 0; k < n_em; k++) if (!strcmp(em[k].name, "45nm")) e45 = k;
  for (int i = 0; i < nn; i++) {
    sf_snn_node_stats a, b = {0};
    sf_snn_node_stats_get(ss[0], i, &a);
    if (n_s > 1) sf_snn_node_stats_get(ss[1], i, &b);
    double spikes = a.spikes + b.spikes;
    sf_op_counts c = {(a.macs + b.macs) / (double)ds.n, (a.sops + b.sops) / (double)ds.n, (a.float_ops + b.float_ops) / (double)ds.n,
                      (a.neuron_updates + b.neuron_updates) / (double)ds.n, 0};
    for (int k = 0; k < n_em; k++) snn_pj[k] += sf_energy_pj(&em[k], &c);
    if (!strcmp(a.mode, "neuron")) {
      lnames[nr] = a.name;
      rates[nr++] = a.neurons ? spikes / ((double)a.neurons * (double)T * (double)ds.n) : 0;
    }
    double e = sf_energy_pj(&em[e45], &c);
    if (e > 0) { enames[ne] = a.name; elayer[ne++] = e; }
  }
  for (int k = 0; k < n_em; k++) ann_pj[k] = sf_energy_pj(&em[k], &annc);
  fprintf(f, "<h2>Per-layer firing rates</h2>\n");
  chart_spec c2 = {"chart-firing", "Firing rate per neuron layer (spikes per neuron per step)", "neuron layer", "spikes / neuron / step", 0};
  svg_bars(f, &c2, lnames, rates, NULL, nr, "firing rate", NULL);
  fprintf(f, "<h2>Energy per layer</h2>\n");
  char e_title[128];
  snprintf(e_title, sizeof e_title, "Energy per layer, %s model (pJ per image, log scale)", em[e45].name);
  chart_spec c3 = {"chart-energy-layers", e_title, "layer", "pJ / image", 1};
  svg_bars(f, &c3, enames, elayer, NULL, ne, em[e45].name, NULL);
  fprintf(f, "<h2>Energy per model</h2>\n");
  const char **mnames = calloc((size_t)n_em, sizeof(char *));
  double *snn_uj = calloc((size_t)n_em, sizeof(double)), *ann_uj = calloc((size_t)n_em, sizeof(double));
  for (int k = 0; k < n_em; k++) { mnames[k] = em[k].name; snn_uj[k] = snn_pj[k] * 1e-6; ann_uj[k] = ann_pj[k] * 1e-6; }
  chart_spec c4 = {"chart-energy-models", "Energy per image under each model (uJ)", "energy model", "uJ / image", 0};
  svg_bars(f, &c4, mnames, snn_uj, ann_uj, n_em, "SNN", "ANN");
  fprintf(f, "<table><tr><th>model</th><th>SNN uJ/image</th><th>ANN uJ/image</th><th>SNN/ANN</th><th>sources</th></tr>\n");
  for (int k = 0; k < n_em; k++) {
    fprintf(f, "<tr><td class=\"l\">%s</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td class=\"l\">", em[k].name, snn_uj[k], ann_uj[k], ann_uj[k] > 0 ? snn_uj[k] / ann_uj[k] : 0);
    html_text(f, em[k].sources);
    fprintf(f, "</td></tr>\n");
  }
  sf_power_monitor pm;
  sf_power_monitor_probe(&pm);
  fprintf(f, "</table>\n<p class=\"note\">All figures above are modelled from exact operation counts. Measured energy: ");
  html_text(f, pm.rapl_available ? "RAPL available (see 'spikeformer profile')" : pm.rapl_reason);
  fprintf(f, "; GPU (NVML): ");
  html_text(f, pm.nvml_available ? pm.gpu_name : pm.nvml_reason);
  fprintf(f, ".</p>\n");
  sf_power_monitor_close(&pm);
  /* 4. raster */
  fprintf(f, "<h2>Spike raster of one input (test image 0)</h2>\n");
  const signed char *blocks[RASTER_LAYERS];
  const char *bnames[RASTER_LAYERS];
  int nb = 0;
  for (int i = 0; i < nn && nb < RASTER_LAYERS; i++) {
    const int8_t *r = sf_snn_raster(ss[0], i);
    if (!r) continue;
    sf_snn_node_stats a;
    sf_snn_node_stats_get(ss[0], i, &a);
    /* spread the chosen layers over the depth: first, then every few */
    if (nb > 0 && i < (nn * nb) / RASTER_LAYERS) continue;
    blocks[nb] = (const signed char *)r;
    size_t ln = strlen(a.name);
    bnames[nb++] = ln > 22 ? a.name + ln - 22 : a.name; /* the informative tail of long names */
  }
  char r_title[128];
  snprintf(r_title, sizeof r_title, "First %d neurons of %d layers, steps 1..%lld (blue +, red -; darker = burst)", RASTER_NEURONS, nb, (long long)T);
  chart_spec c5 = {"chart-raster", r_title, "timestep", "neuron", 0};
  svg_raster(f, &c5, blocks, bnames, nb, (int)T, RASTER_NEURONS);
  /* 5. Pareto front */
  fprintf(f, "<h2>Optimizer: energy vs accuracy drop</h2>\n");
  int np = 0;
  double *px = NULL, *py = NULL;
  int *ph = NULL;
  if (opt) {
    cJSON *pts = cJSON_GetObjectItemCaseSensitive(opt, "points");
    np = cJSON_GetArraySize(pts);
    px = calloc((size_t)np + 1, sizeof(double)); py = calloc((size_t)np + 1, sizeof(double)); ph = calloc((size_t)np + 1, sizeof(int));
    if (!px || !py || !ph) np = 0; /* an empty chart rather than a crash */
    int k = 0;
    for (cJSON *p = np ? pts->child : NULL; p; p = p->next, k++) {
      px[k] = cJSON_GetObjectItemCaseSensitive(p, "energy_ratio")->valuedouble;
      py[k] = cJSON_GetObjectItemCaseSensitive(p, "drop_points")->valuedouble;
      ph[k] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "pareto"));
    }
    fprintf(f, "<p class=\"note\">From ");
    html_text(f, optjson);
    fprintf(f, ": every configuration the optimizer tried (neuron type, threshold policy, tuned T) at every T.</p>\n");
  } else {
    /* this model over T: cumulative energy per step vs drop */
    np = (int)T;
    px = calloc((size_t)np, sizeof(double)); py = calloc((size_t)np, sizeof(double)); ph = calloc((size_t)np, sizeof(int));
    if (!px || !py || !ph) { free(px); free(py); free(ph); st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
    double cum = 0;
    for (int t = 1; t <= T; t++) {
      sf_op_counts c = {0}, c2b = {0};
      sf_snn_step_counts(ss[0], t, &c.sops, &c.macs, &c.float_ops, &c.neuron_updates);
      if (n_s > 1) sf_snn_step_counts(ss[1], t, &c2b.sops, &c2b.macs, &c2b.float_ops, &c2b.neuron_updates);
      c.sops = (c.sops + c2b.sops) / (double)ds.n; c.macs = (c.macs + c2b.macs) / (double)ds.n;
      c.float_ops = (c.float_ops + c2b.float_ops) / (double)ds.n; c.neuron_updates = (c.neuron_updates + c2b.neuron_updates) / (double)ds.n;
      cum += sf_energy_pj(&em[e45], &c);
      px[t - 1] = ann_pj[e45] > 0 ? cum / ann_pj[e45] : 0;
      py[t - 1] = 100 * ann_acc - ya[t - 1];
    }
    for (int i = 0; i < np; i++) {
      ph[i] = 1;
      for (int j = 0; j < np; j++) if (j != i && px[j] <= px[i] && py[j] <= py[i] && (px[j] < px[i] || py[j] < py[i])) ph[i] = 0;
    }
    fprintf(f, "<p class=\"note\">No optimizer run was given (--optimize FILE.json): the points are this model at T = 1..%lld.</p>\n", (long long)T);
  }
  chart_spec c6 = {"chart-pareto", "Pareto front: energy (SNN/ANN, 45 nm) vs accuracy drop", "energy ratio SNN/ANN", "accuracy drop (points)", 0};
  svg_scatter(f, &c6, px, py, ph, np, "Pareto-optimal");
  fprintf(f, "</body></html>\n");
  free(px); free(py); free(ph); free(xs); free(ya); free(yb); free(lnames); free(enames); free(rates); free(elayer);
  free(snn_pj); free(ann_pj); free(mnames); free(snn_uj); free(ann_uj);
  st = sf_outfile_commit(&of);
  if (!st) printf("wrote %s (%lld images, T=%lld): SNN %.2f%% vs ANN %.2f%%\n", out, (long long)ds.n, (long long)T, 100.0 * (double)correct[T - 1] / (double)ds.n, 100 * ann_acc);
done:
  if (st && of.f) sf_outfile_abort(&of);
  cJSON_Delete(opt);
  for (int i = 0; i < 2; i++) { sf_snn_session_free(ss[i]); sf_graph_free(gs[i]); }
  sf_session_free(ann);
  free(correct);
  sf_energy_models_free(em, n_em);
  sf_dataset_free(&ds);
  sf_snn_model_free(m);
  return st ? cli_fail(st) : 0;
}
