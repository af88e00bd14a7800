/* spikeformer export OUT.sfm --format nir [--nir-dialect D] -o FILE: a converted model in an exchange
 * format that other tools read (nir.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *format, *dialect, *out, *json, *until;
  double dt;
  int partial;
} export_args;

static const char *const formats[] = {"nir", NULL};
static const char *const dialects[] = {"generic", "snntorch", "norse", "spikingjelly", "lava", "spinnaker2", NULL};
#define A(f) offsetof(export_args, f)
static const cli_option export_options[] = {
    {.name = "--format", .kind = CLI_CHOICE, .arg = "F", .offset = A(format), .help = "nir (NIR 1.0, HDF5)", .choices = formats},
    {.name = "--output", .alias = "-o", .kind = CLI_STR, .arg = "FILE", .offset = A(out), .help = "the file to write (written whole or not at all)"},
    {.name = "--nir-dialect", .kind = CLI_CHOICE, .arg = "D", .offset = A(dialect), .help = "the reader the file is for: generic (default; SpikeFormer reads it back exactly) | snntorch | "
                                                   "norse | spikingjelly | lava | spinnaker2 (docs/nir.md: dt, tau, r, v_reset and folding per dialect)", .choices = dialects},
    {.name = "--dt", .kind = CLI_NUM, .arg = "S", .offset = A(dt), .help = "NIR: the time step the reader discretises with (default: the dialect's)", .lo = 1e-9, .hi = 1,
     .range_text = "seconds in [1e-9, 1]"},
    {.name = "--partial", .kind = CLI_FLAG, .offset = A(partial), .help = "write the chain from the input up to the first node the format cannot express (the MLP / CNN part "
                                                                      "of a model) instead of refusing the model"},
    {.name = "--until", .kind = CLI_STR, .arg = "NODE", .offset = A(until), .help = "write the chain from the input up to and including NODE (a node of the spiking graph)"},
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = A(json), .help = "write the export report as JSON (nodes written, folding, the reader's dynamics, warnings)"},
    {.name = NULL}};

static void export_defaults(void *p) { ((export_args *)p)->format = "nir"; }

static int export_run(void *p) {
  export_args *a = p;
  const char *model = a->h.pos[0];
  if (!a->out) return cli_usage_error("export", "missing -o FILE");
  if (!cli_is_sfm(model)) return cli_usage_error("export", "%s is not a converted model (.sfm): convert it first ('spikeformer convert MODEL -o OUT.sfm')", model);
  sf_nir_options o;
  sf_nir_options_default(&o);
  if (a->dialect && sf_nir_dialect_parse(a->dialect, &o.dialect)) return cli_usage_error("export", "unknown --nir-dialect '%s'", a->dialect);
  o.dt = a->dt;
  o.partial = a->partial;
  o.until = a->until;
  sf_status st = sf_check_writable((const char *[]){a->out, a->json}, 2);
  if (st) return cli_fail(st);
  sf_snn_model *m;
  if ((st = sf_snn_model_load(model, &m))) return cli_fail(st);
  char *report = NULL;
  st = sf_export_nir(m, a->out, &o, &report);
  sf_snn_model_free(m);
  if (st) return cli_fail(st);
  printf("wrote %s (NIR 1.0, dialect %s, dt %g s)\n", a->out, sf_nir_dialect_name(o.dialect), o.dt > 0 ? o.dt : sf_nir_dialect_dt(o.dialect));
  /* the nodes and the warnings, from the report */
  const char *w = strstr(report, "\"warnings\":[");
  if (w && w[12] != ']') printf("warnings: %.*s\n", (int)(strstr(w, "]") - w - 12), w + 12);
  const char *s = strstr(report, "\"stopped_before\":{\"node\":\"");
  if (s) {
    s += strlen("\"stopped_before\":{\"node\":\"");
    printf("partial export: stopped before node '%.*s' (what NIR cannot express; --json has the reason)\n", (int)(strchr(s, '"') - s), s);
  }
  if (a->json) st = cli_write_text(a->json, report);
  else free(report);
  return st ? cli_fail(st) : 0;
}

const cli_command cmd_export = {
    "export", "OUT.sfm --format nir [--nir-dialect D] -o FILE [options]", "write a converted model in an exchange format (NIR) for other tools",
    "Writes the spiking network of a converted model as a NIR 1.0 file (HDF5: the Neuromorphic Intermediate\n"
    "Representation, read by snnTorch, Norse, Lava, SpiNNaker2, SpikingJelly, ...). NIR is continuous-time: each\n"
    "dialect writes the parameters (dt, tau, r, thresholds) its reader turns back into the model's neurons, and\n"
    "readers reset to zero and start from 0 (convert with --reset zero --v-init 0 for the same dynamics here).\n"
    "What NIR cannot express (max pooling, softmax, LayerNorm, attention, signed or burst neurons) is refused\n"
    "naming the node; --partial writes the part before it. 'spikeformer import' reads NIR files back.",
    export_options, sizeof(export_args), export_defaults, export_run, 1, 1, "OUT.sfm"};
