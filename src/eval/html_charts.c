#include "eval/html_charts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W 720
#define H 340
#define ML 84
#define MR 20
#define MT 64  /* the title, then a row of legends, above the plot */
#define MB 96  /* rotated tick labels, then the axis title */

static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"};

void html_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '&') fputs("&amp;", f);
    else if (*s == '"') fputs("&quot;", f);
    else fputc(*s, f);
  }
}

static void frame(FILE *f, const chart_spec *c) {
  fprintf(f, "<figure><svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", c->id, W, H, W, H);
  fprintf(f, "<text x=\"%d\" y=\"20\" class=\"title\">", ML);
  html_text(f, c->title);
  fprintf(f, "</text>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", ML, H - MB,
          W - MR, H - MB, ML, MT, ML, H - MB);
  fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 6);
  html_text(f, c->xlabel);
  fprintf(f, "</text><text x=\"14\" y=\"%d\" class=\"label\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">", (MT + H - MB) / 2, (MT + H - MB) / 2);
  html_text(f, c->ylabel);
  fprintf(f, "</text>\n");
}

static double ty(const chart_spec *c, double v, double lo, double hi) {
  if (c->log_y) { v = log10(v > 1e-12 ? v : 1e-12); lo = log10(lo > 1e-12 ? lo : 1e-12); hi = log10(hi > 1e-12 ? hi : 1e-12); }
  double r = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  return (H - MB) - r * (H - MB - MT);
}

static void yticks(FILE *f, const chart_spec *c, double lo, double hi) {
  for (int k = 0; k <= 4; k++) {
    double v = c->log_y ? pow(10, log10(lo) + (log10(hi) - log10(lo)) * k / 4.0) : lo + (hi - lo) * k / 4.0;
    double y = ty(c, v, lo, hi);
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/><text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.4g</text>\n", ML,
            y, W - MR, y, ML - 4, y + 4, v);
  }
}

void svg_lines(FILE *f, const chart_spec *c, const double *x, const double *const *ys, int ns, int n, const char *const *names, const int *dashed) {
  frame(f, c);
  double lo = INFINITY, hi = -INFINITY, xlo = x[0], xhi = x[n - 1];
  for (int s = 0; s < ns; s++)
    for (int i = 0; i < n; i++) { lo = fmin(lo, ys[s][i]); hi = fmax(hi, ys[s][i]); }
  double pad = (hi - lo) * 0.05 + 1e-9;
  lo -= pad; hi += pad;
  yticks(f, c, lo, hi);
  for (int i = 0; i < n; i++) {
    double px = ML + (xhi > xlo ? (x[i] - xlo) / (xhi - xlo) : 0.5) * (W - ML - MR);
    if (n <= 40 || i % (n / 20 + 1) == 0) fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%g</text>\n", px, H - MB + 16, x[i]);
  }
  for (int s = 0; s < ns; s++) {
    fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colors[s % 6], dashed && dashed[s] ? " stroke-dasharray=\"6 4\"" : "");
    for (int i = 0; i < n; i++) {
      double px = ML + (xhi > xlo ? (x[i] - xlo) / (xhi - xlo) : 0.5) * (W - ML - MR);
      fprintf(f, "%.1f,%.1f ", px, ty(c, ys[s][i], lo, hi));
    }
    fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" fill=\"%s\" class=\"legend\">", W - MR - 220, 38 + 13 * s, colors[s % 6]);
    html_text(f, names[s]);
    fprintf(f, "</text>\n");
  }
  fprintf(f, "</svg></figure>\n");
}

void svg_bars(FILE *f, const chart_spec *c, const char *const *labels, const double *v, const double *v2, int n, const char *n1, const char *n2) {
  frame(f, c);
  double lo = c->log_y ? INFINITY : 0, hi = 0;
  for (int i = 0; i < n; i++) {
    hi = fmax(hi, v[i]);
    if (v2) hi = fmax(hi, v2[i]);
    if (c->log_y) { if (v[i] > 0) lo = fmin(lo, v[i]); if (v2 && v2[i] > 0) lo = fmin(lo, v2[i]); }
  }
  if (c->log_y) { lo = lo / 2; if (!isfinite(lo)) lo = 1; }
  if (hi <= lo) hi = lo + 1;
  yticks(f, c, lo, hi);
  double slot = (double)(W - ML - MR) / (n ? n : 1), bw = slot * (v2 ? 0.4 : 0.7);
  for (int i = 0; i < n; i++) {
    double x0 = ML + i * slot + slot * 0.1;
    for (int s = 0; s < (v2 ? 2 : 1); s++) {
      double val = s ? v2[i] : v[i], y = ty(c, c->log_y && val <= 0 ? lo : val, lo, hi);
      fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x0 + s * bw, y, bw, (H - MB) - y, colors[s]);
      html_text(f, labels[i]);
      fprintf(f, ": %.4g</title></rect>\n", val);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" transform=\"rotate(35 %.1f %d)\">", x0, H - MB + 12, x0, H - MB + 12);
    size_t len = strlen(labels[i]);
    if (len > 22) fputs("...", f);
    html_text(f, len > 22 ? labels[i] + len - 19 : labels[i]);
    fprintf(f, "</text>\n");
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\" class=\"legend\">", W - MR - 220, 38, colors[0]);
  html_text(f, n1);
  fprintf(f, "</text>\n");
  if (v2) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\" class=\"legend\">", W - MR - 220, 51, colors[1]);
    html_text(f, n2);
    fprintf(f, "</text>\n");
  }
  fprintf(f, "</svg></figure>\n");
}

void svg_scatter(FILE *f, const chart_spec *c, const double *x, const double *y, const int *hl, int n, const char *hl_name) {
  frame(f, c);
  double xlo = INFINITY, xhi = -INFINITY, lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < n; i++) { xlo = fmin(xlo, x[i]); xhi = fmax(xhi, x[i]); lo = fmin(lo, y[i]); hi = fmax(hi, y[i]); }
  double pad = (hi - lo) * 0.05 + 1e-9;
  lo -= pad; hi += pad;
  yticks(f, c, lo, hi);
  for (int k = 0; k <= 4; k++) {
    double xv = xlo + (xhi - xlo) * k / 4.0, px = ML + (W - ML - MR) * k / 4.0;
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%.3g</text>\n", px, H - MB + 16, xv);
  }
  for (int i = 0; i < n; i++) {
    double px = ML + (xhi > xlo ? (x[i] - xlo) / (xhi - xlo) : 0.5) * (W - ML - MR);
    fprintf(f, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\"/>\n", px, ty(c, y[i], lo, hi), hl[i] ? 5 : 3, hl[i] ? colors[1] : "#999");
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\" class=\"legend\">", W - MR - 220, 38, colors[1]);
  html_text(f, hl_name);
  fprintf(f, "</text></svg></figure>\n");
}

void svg_raster(FILE *f, const chart_spec *c, const signed char *const *blocks, const char *const *names, int nb, int T, int neurons) {
  frame(f, c);
  double bh = (double)(H - MB - MT) / (nb ? nb : 1), cw = (double)(W - ML - MR) / (T ? T : 1), rh = bh / (neurons + 2);
  for (int t = 0; t < T; t++)
    if (T <= 32 || t % 4 == 0) fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%d</text>\n", ML + (t + 0.5) * cw, H - MB + 16, t + 1);
  for (int b = 0; b < nb; b++) {
    double y0 = MT + b * bh;
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">", ML - 4, y0 + bh / 2);
    html_text(f, names[b]);
    fprintf(f, "</text>\n");
    for (int t = 0; t < T; t++)
      for (int k = 0; k < neurons; k++) {
        int v = blocks[b][t * neurons + k];
        if (!v) continue;
        fprintf(f, "<rect class=\"spike\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" opacity=\"%.2f\"/>\n", ML + t * cw + 1, y0 + (k + 1) * rh, cw - 2,
                rh > 1.5 ? rh - 0.5 : rh, v > 0 ? colors[0] : colors[1], fmin(1.0, 0.35 + 0.2 * abs(v)));
      }
  }
  fprintf(f, "</svg></figure>\n");
}
