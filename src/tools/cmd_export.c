/* spikeformer export MODEL.sfm --format FORMAT -o OUT: write a converted model in a format other
 * tools read. netx: Lava-DL's HDF5 network (lowered exactly as --backend loihi2 runs it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *format, *out, *json;
  cli_list backend_opts;
} export_args;

static const char *const formats[] = {"netx", NULL};
#define X(f) offsetof(export_args, f)
static const cli_option export_options[] = {
    {.name = "--format", .kind = CLI_CHOICE, .arg = "F", .offset = X(format), .help = "netx (Lava-DL's HDF5 network for Loihi 2)", .choices = formats},
    {.name = "-o", .kind = CLI_STR, .arg = "FILE", .offset = X(out), .help = "the file to write (required)"},
    {.name = "--backend-opt", .kind = CLI_LIST, .arg = "KEY=VALUE", .offset = X(backend_opts), .help = "netx: a loihi2 backend option of the lowering (repeat; the same as "
                                                                                                          "eval --backend loihi2 takes, 'spikeformer compile --list-options')"},
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = X(json), .help = "write a summary as JSON"},
    {.name = NULL}};

static long long file_bytes(const char *path) {
  struct stat sb;
  return stat(path, &sb) ? -1 : (long long)sb.st_size;
}

static int export_run(void *p) {
  export_args *a = p;
  const char *model = a->h.pos[0];
  if (!a->format) return cli_usage_error("export", "--format is required (netx)");
  if (!a->out) return cli_usage_error("export", "-o FILE is required");
  sf_status st = sf_check_writable((const char *[]){a->out, a->json}, 2);
  if (st) return cli_fail(st);
  sf_snn_model *m = NULL;
  const sf_backend *be = NULL;
  void *target = NULL;
  if ((st = sf_backend_find("loihi2", &be)) || (st = sf_backend_target_new(be, &target)) || (st = cli_backend_opts(be, target, &a->backend_opts))) goto out;
  if ((st = sf_snn_model_load(model, &m)) || (st = sf_export_netx(m, target, a->out))) goto out;
  printf("wrote %s (netx HDF5: layer 0 the input neurons, then Dense layers; conventions in docs/loihi2.md)\n", a->out);
  if (a->json) {
    char buf[4096];
    snprintf(buf, sizeof buf, "{\"format\": \"netx\", \"output_bytes\": %lld}\n", (long long)file_bytes(a->out));
    st = cli_write_text(a->json, strdup(buf));
  }
out:
  sf_snn_model_free(m);
  free(target);
  return st ? cli_fail(st) : 0;
}

const cli_command cmd_export = {
    "export", "OUT.sfm --format netx -o FILE [--backend-opt KEY=VALUE]...", "write a converted model for other tools (Lava-DL netx)",
    "netx: the HDF5 network Lava-DL's netx.hdf5.Network loads for Loihi 2, lowered exactly as eval --backend loihi2\n"
    "runs it (the same --backend-opt options), so a Lava user gets the spikes and the accuracy SpikeFormer reports.\n"
    "Layer 0 holds the input neurons; each sample enters them as round(x 2^E) at every step (E in\n"
    "layer/0/input_scale_exp); the prediction is the argmax of the last layer's final voltage (layer/<last>/readout).\n"
    "docs/loihi2.md has the layout and conventions. The file is written whole or not at all.",
    export_options, sizeof(export_args), NULL, export_run, 1, 1, "OUT.sfm"};
