/* A program built against an installed libspikeformer (pkg-config and CMake package tests). */
#include <stdio.h>

#include <spikeformer/spikeformer.h>

int main(int argc, char **argv) {
  sf_graph *g;
  if (argc < 2) return 2;
  if (sf_graph_load(argv[1], &g)) { fprintf(stderr, "%s\n", sf_last_error()); return 1; }
  printf("spikeformer %s: %d inputs, %d nodes\n", sf_version(), sf_graph_num_inputs(g), sf_graph_num_nodes(g));
  sf_graph_free(g);
  return 0;
}
