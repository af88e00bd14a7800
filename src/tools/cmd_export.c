/* spikeformer export OUT.sfm --format nir|netx -o FILE: a converted model in an exchange format that
 * other tools read. nir: NIR 1.0 (nir.h), in the dialect of the reader it is for; netx: Lava-DL's HDF5
 * network for Loihi 2 (loihi2.h), lowered exactly as --backend loihi2 runs it. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *format, *dialect, *out, *json, *until;
  double dt;
  int partial;
  cli_list backend_opts;
} export_args;

static const char *const formats[] = {"nir", "netx", NULL};
static const char *const dialects[] = {"generic", "snntorch", "norse", "spikingjelly", "lava", "spinnaker2", NULL};
#define A(f) offsetof(export_args, f)
static const cli_option export_options[] = {
    {.name = "--format", .kind = CLI_CHOICE, .arg = "F", .offset = A(format), .help = "nir (default: NIR 1.0, HDF5) or netx (Lava-DL's HDF5 network for Loihi 2)", .choices = formats},
    {.name = "--output", .alias = "-o", .kind = CLI_STR, .arg = "FILE", .offset = A(out), .help = "the file to write (written whole or not at all)"},
    {.name = "--nir-dialect", .kind = CLI_CHOICE, .arg = "D", .offset = A(dialect), .help = "nir: the reader the file is for: generic (default; SpikeFormer reads it back exactly) | "
                                                   "snntorch | norse | spikingjelly | lava | spinnaker2 (docs/nir.md: dt, tau, r, v_reset and folding per dialect)", .choices = dialects},
    {.name = "--dt", .kind = CLI_NUM, .arg = "S", .offset = A(dt), .help = "nir: the time step the reader discretises with (default: the dialect's)", .lo = 1e-9, .hi = 1,
     .range_text = "seconds in [1e-9, 1]"},
    {.name = "--partial", .kind = CLI_FLAG, .offset = A(partial), .help = "nir: write the chain from the input up to the first node the format cannot express (the MLP / "
                                                                      "CNN part of a model) instead of refusing the model"},
    {.name = "--until", .kind = CLI_STR, .arg = "NODE", .offset = A(until), .help = "nir: write the chain from the input up to and including NODE (a node of the spiking graph)"},
    {.name = "--backend-opt", .kind = CLI_LIST, .arg = "KEY=VALUE", .offset = A(backend_opts), .help = "netx: a loihi2 backend option of the lowering (repeat; the same as eval "
                                                                                                         "--backend loihi2 takes: 'spikeformer compile --list-options')"},
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = A(json), .help = "write the export report as JSON (nir: nodes written, folding, the reader's dynamics, "
                                                                                  "warnings; netx: the file's size)"},
    {.name = NULL}};

static void export_defaults(void *p) { ((export_args *)p)->format = "nir"; }

static long long file_bytes(const char *path) {
  struct stat sb;
  return stat(path, &sb) ? -1 : (long long)sb.st_size;
}

static int export_netx(export_args *a, const char *model) {
  static const char *const nir_only[] = {"--nir-dialect", "--dt", "--partial", "--until", NULL};
  for (int k = 0; nir_only[k]; k++)
    if (cli_given(a, nir_only[k])) return cli_usage_error("export", "%s applies to --format nir", nir_only[k]);
  sf_status st = sf_check_writable((const char *[]){a->out, a->json}, 2);
  if (st) return cli_fail(st);
  sf_snn_model *m = NULL;
  const sf_backend *be = NULL;
  void *target = NULL;
  if ((st = sf_backend_find("loihi2", &be)) || (st = sf_backend_target_new(be, &target)) || (st = cli_backend_opts(be, target, &a->backend_opts))) goto out;
  if ((st = sf_snn_model_load(model, &m)) || (st = sf_export_netx(m, target, a->out))) goto out;
  printf("wrote %s (netx HDF5: layer 0 the input neurons, then Dense layers; conventions in docs/loihi2.md)\n", a->out);
  if (a->json) {
    char buf[256];
    snprintf(buf, sizeof buf, "{\"format\": \"netx\", \"output_bytes\": %lld}\n", file_bytes(a->out));
    st = cli_write_text(a->json, strdup(buf));
  }
out:
  sf_snn_model_free(m);
  free(target);
  return st ? cli_fail(st) : 0;
}

static int export_run(void *p) {
  export_args *a = p;
  const char *model = a->h.pos[0];
  if (!a->out) return cli_usage_error("export", "missing -o FILE");
  if (!cli_is_sfm(model)) return cli_usage_error("export", "%s is not a converted model (.sfm): convert it first ('spikeformer convert MODEL -o OUT.sfm')", model);
  if (!strcmp(a->format, "netx")) return export_netx(a, model);
  if (a->backend_opts.n) return cli_usage_error("export", "--backend-opt applies to --format netx");
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
    "export", "OUT.sfm [--format nir|netx] -o FILE [options]", "write a converted model in an exchange format (NIR, Lava-DL netx) for other tools",
    "nir (default): the spiking network as a NIR 1.0 file (HDF5: the Neuromorphic Intermediate Representation, read\n"
    "by snnTorch, Norse, Lava, SpiNNaker2, SpikingJelly, ...). NIR is continuous-time: each dialect writes the\n"
    "parameters (dt, tau, r, thresholds) its reader turns back into the model's neurons, and readers reset to zero\n"
    "and start from 0 (convert with --reset zero --v-init 0 for the same dynamics here). What NIR cannot express\n"
    "(max pooling, softmax, LayerNorm, attention, signed or burst neurons) is refused naming the node; --partial\n"
    "writes the part before it. 'spikeformer import' reads NIR files back. docs/nir.md.\n"
    "netx: the HDF5 network Lava-DL's netx.hdf5.Network loads for Loihi 2, lowered exactly as eval --backend loihi2\n"
    "runs it (the same --backend-opt options), so a Lava user gets the spikes and the accuracy SpikeFormer reports.\n"
    "Each sample enters layer 0 as round(x 2^E) at every step; the prediction is the argmax of the last layer's\n"
    "readout (layer/<last>/readout). docs/loihi2.md.",
    export_options, sizeof(export_args), export_defaults, export_run, 1, 1, "OUT.sfm"};
