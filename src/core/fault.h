/* Allocation-failure injection for tests (SQLite's habit): sf_fault_fail_after(n) makes the n-th
 * allocation from now that checks sf_fault_alloc() fail, once. Only the paths that call
 * sf_fault_alloc() take part (today: graph attributes). Not for production use; off by default
 * (n = 0), and one atomic decrement per checked allocation. */
#ifndef SF_CORE_FAULT_H
#define SF_CORE_FAULT_H

void sf_fault_fail_after(int n);
/* 1 when this allocation must fail */
int sf_fault_alloc(void);

#endif
