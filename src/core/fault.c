#include "core/fault.h"

#include <stdatomic.h>

static atomic_int g_countdown;

void sf_fault_fail_after(int n) { atomic_store(&g_countdown, n); }

int sf_fault_alloc(void) {
  if (atomic_load_explicit(&g_countdown, memory_order_relaxed) <= 0) return 0;
  return atomic_fetch_sub(&g_countdown, 1) == 1;
}
