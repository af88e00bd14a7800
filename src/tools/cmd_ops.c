/* spikeformer ops: list supported ops */
#include <string.h>

#include "ops/ops.h"
#include "tools/cli.h"

int cmd_ops(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: spikeformer ops\n\nLists the ops the importer and the float executor support\n"
             "(domain 'spikeformer' = fused by SpikeFormer's passes).\n");
      return 0;
    }
    return cli_usage_error("ops", "unknown argument '%s'", argv[i]);
  }
  for (int i = 0; i < sf_op_count(); i++) {
    const sf_op_def *d = sf_op_at(i);
    printf("%-12s %-20s %s\n", *d->domain ? d->domain : "onnx", d->op_type, d->summary);
  }
  return 0;
}
