/* The instruction-set rule of the int8 kernels, shared by their files: their 512-bit code needs
 * AVX-512 F, BW, VL and VNNI (SF_ISA_AVX512_VNNI); below that they run their AVX2 code where they
 * have one (SF_ISA_AVX2 and SF_ISA_AVX512), else portable C. Read from the CPU-feature module at
 * each call, so a forced level takes effect at once. */
#ifndef SF_SNN_Q8_ISA_H
#define SF_SNN_Q8_ISA_H
#include "spikeformer/cpu.h"

/* SF_ISA_AVX512_VNNI, SF_ISA_AVX2 or SF_ISA_C: the code the int8 kernels run now */
static inline sf_isa sf_q8_level(void) {
  const sf_isa l = sf_cpu_isa();
  return l >= SF_ISA_AVX512_VNNI ? SF_ISA_AVX512_VNNI : l >= SF_ISA_AVX2 ? SF_ISA_AVX2 : SF_ISA_C;
}

#endif
