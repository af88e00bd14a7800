/* spikeformer ops: the ops the importer and the float executor support. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option no_options[] = {{.name = NULL}};

static int ops_run(void *p) {
  (void)p;
  for (int i = 0; i < sf_op_count(); i++) {
    const char *type, *domain, *summary;
    sf_op_describe(i, &type, &domain, &summary);
    printf("%-12s %-20s %s\n", *domain ? domain : "onnx", type, summary);
  }
  return 0;
}

const cli_command cmd_ops = {"ops", "", "the ONNX and fused ops the importer and executor support",
                             "Lists the ops the importer and the float executor support (domain 'spikeformer' = fused by SpikeFormer's passes).",
                             no_options, sizeof(cli_head), NULL, ops_run, 0, 0, "argument"};

