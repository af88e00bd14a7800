/* spikeformer import FILE.nir -o OUT.sfm: a model from an exchange format (NIR), as a model the
 * runtime runs (nir.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *dialect, *out, *json;
  double dt;
  int64_t timesteps;
} import_args;

static const char *const dialects[] = {"generic", "snntorch", "norse", "spikingjelly", "lava", "spinnaker2", NULL};
#define A(f) offsetof(import_args, f)
static const cli_option import_options[] = {
    {.name = "--output", .alias = "-o", .kind = CLI_STR, .arg = "OUT.sfm", .offset = A(out), .help = "the model to write (written whole or not at all)"},
    {.name = "--nir-dialect", .kind = CLI_CHOICE, .arg = "D", .offset = A(dialect), .help = "whose conventions the file follows, for its dt when the file has none (default generic, dt 1e-4, "
                                                   "as snnTorch, SpikingJelly and Lava; norse: 1e-3)", .choices = dialects},
    {.name = "--dt", .kind = CLI_NUM, .arg = "S", .offset = A(dt), .help = "the time step to discretise with when the file has no dt of its own", .lo = 1e-9, .hi = 1,
     .range_text = "seconds in [1e-9, 1]"},
    {.name = "--timesteps", .kind = CLI_INT, .arg = "T", .offset = A(timesteps), .help = "the T stored with the model (default 16; eval and run take --timesteps)", .lo = 1, .hi = 100000},
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = A(json), .help = "write the import report as JSON (each NIR node and what it became)"},
    {.name = NULL}};

static int import_run(void *p) {
  import_args *a = p;
  const char *file = a->h.pos[0];
  if (!a->out) return cli_usage_error("import", "missing -o OUT.sfm");
  sf_nir_options o;
  sf_nir_options_default(&o);
  if (a->dialect && sf_nir_dialect_parse(a->dialect, &o.dialect)) return cli_usage_error("import", "unknown --nir-dialect '%s'", a->dialect);
  o.dt = a->dt;
  o.timesteps = (int)a->timesteps;
  sf_status st = sf_check_writable((const char *[]){a->out, a->json}, 2);
  if (st) return cli_fail(st);
  sf_snn_model *m = NULL;
  char *report = NULL;
  if ((st = sf_import_nir(file, &o, &m, &report))) return cli_fail(st);
  st = sf_snn_model_save(m, a->out);
  if (!st) {
    int counts[SF_MODE_COUNT];
    printf("read %s: ", file);
    if (!sf_snn_model_mode_counts(m, counts))
      printf("%d nodes (%d neuron layers, %d linear)\n", counts[SF_MODE_LINEAR] + counts[SF_MODE_NEURON], counts[SF_MODE_NEURON], counts[SF_MODE_LINEAR]);
    else printf("\n");
    const char *w = strstr(report, "\"warnings\":[");
    if (w && w[12] != ']') printf("warnings: %.*s\n", (int)(strstr(w, "]") - w - 12), w + 12);
    printf("wrote %s\n", a->out);
  }
  sf_snn_model_free(m);
  if (!st && a->json) st = cli_write_text(a->json, report);
  else free(report);
  return st ? cli_fail(st) : 0;
}

const cli_command cmd_import = {
    "import", "FILE.nir -o OUT.sfm [options]", "read a spiking network from an exchange format (NIR) into a model (.sfm)",
    "Reads a NIR 1.0 file (HDF5; written by 'spikeformer export', by snnTorch's exporter or by hand) into a\n"
    "model that eval, run and profile take: Input, Output, Affine, Linear, Conv1d/Conv2d, Flatten, SumPool2d,\n"
    "AvgPool2d, Scale, IF, LIF, CubaLIF (without synaptic decay), Threshold and nested graphs, in a chain.\n"
    "Neurons are discretised with the file's dt (or the dialect's), reset to v_reset = 0 and start from 0,\n"
    "as NIR's readers do, unless SpikeFormer's own metadata in the file says otherwise. A file that is\n"
    "truncated, lacks a field, has a wrong type, edges to unknown nodes, a cycle or shapes that do not chain is\n"
    "refused naming the node and the field.",
    import_options, sizeof(import_args), NULL, import_run, 1, 1, "FILE.nir"};
