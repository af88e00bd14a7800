#include "spikeformer/spikeformer.h"

const char *sf_version(void) { return SF_VERSION; }
