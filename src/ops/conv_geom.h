/* Spatial geometry shared by Conv and the pooling ops: kernel, strides, pads, dilations,
 * auto_pad and ceil_mode, for 1-D and 2-D windows (a 1-D window is 2-D with height 1). */
#ifndef SF_OPS_CONV_GEOM_H
#define SF_OPS_CONV_GEOM_H
#include "ops/ops.h"

typedef struct {
  int nsp;                 /* spatial rank: 1 or 2 */
  int64_t in[2], out[2], k[2], s[2], d[2], pb[2], pe[2]; /* sizes, strides, dilations, pads begin/end */
} sf_conv_geom;

/* kernel: from the weight (Conv) or the kernel_shape attribute (pools, pass NULL). */
sf_status sf_conv_geom_init(const sf_op_ctx *c, const sf_tensor *x, const int64_t *kernel, int ceil_mode,
                            sf_conv_geom *g);

#endif
