/* Tiny self-contained SVG chart writers for the HTML report (no scripts, no network). */
#ifndef SF_EVAL_HTML_CHARTS_H
#define SF_EVAL_HTML_CHARTS_H
#include <stdio.h>

typedef struct {
  const char *id, *title, *xlabel, *ylabel;
  int log_y;
} chart_spec;

/* lines: n_series series of n points (x shared); names per series; dashed[i] draws dashed */
void svg_lines(FILE *f, const chart_spec *c, const double *x, const double *const *ys, int n_series, int n, const char *const *names,
               const int *dashed);
/* bars: n labelled values (optionally a second series drawn beside) */
void svg_bars(FILE *f, const chart_spec *c, const char *const *labels, const double *v, const double *v2, int n, const char *name1,
              const char *name2);
/* scatter: n points, highlighted ones marked */
void svg_scatter(FILE *f, const chart_spec *c, const double *x, const double *y, const int *highlight, int n, const char *hl_name);
/* raster: rows blocks of [T][neurons] signed counts */
void svg_raster(FILE *f, const chart_spec *c, const signed char *const *blocks, const char *const *block_names, int n_blocks, int T,
                int neurons);
/* HTML-escape into f */
void html_text(FILE *f, const char *s);

#endif
