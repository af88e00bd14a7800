/* spikeformer version: the version and the BLAS kernels in use. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option no_options[] = {{.name = NULL}};

static int version_run(void *p) {
  (void)p;
  printf("spikeformer %s\nBLAS: OpenBLAS, %s kernels%s\n", sf_version(), sf_blas_core(), getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE)" : "");
  printf("kernels: %s (this CPU supports up to %s; SF_ISA=c|avx2|avx512|avx512-vnni lowers it)\n", sf_isa_name(sf_cpu_isa()), sf_isa_name(sf_cpu_isa_max()));
  return 0;
}

const cli_command cmd_version = {"version", "", "print the version (and the BLAS kernels in use)", "Prints the version and the OpenBLAS kernels in use.",
                                 no_options, sizeof(cli_head), NULL, version_run, 0, 0, "argument"};
