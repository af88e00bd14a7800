/* Which instruction set the int8 kernels use on this CPU (chosen once; SF_ISA=c or avx2 forces a
 * lower one). Shared by the int8 kernel files. */
#ifndef SF_SNN_Q8_ISA_H
#define SF_SNN_Q8_ISA_H

enum { ISA_C, ISA_AVX2, ISA_VNNI512 };
int sf_q8_isa_level(void);

#endif
