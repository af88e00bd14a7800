/* PowerMonitor: Linux RAPL via powercap sysfs, NVIDIA NVML loaded at run time. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "spikeformer/energy.h"

#define POWERCAP "/sys/class/powercap"
#define MAX_DOMAINS 8

struct sf_power_monitor {
  int rapl_available, nvml_available;
  char rapl_reason[512], nvml_reason[256];
  int n_domains;
  char domain[MAX_DOMAINS][256];
  char path[MAX_DOMAINS][512];
  double max_uj[MAX_DOMAINS];
  char gpu_name[96];
  void *nvml_lib, *nvml_dev;         /* NVML handles while open */
  int nvml_energy;                   /* the GPU has a total-energy counter (Volta and later) */
};

int sf_power_monitor_rapl_available(const sf_power_monitor *pm) { return pm && pm->rapl_available; }
const char *sf_power_monitor_rapl_reason(const sf_power_monitor *pm) { return !pm ? "no monitor" : pm->rapl_available ? "" : pm->rapl_reason; }
int sf_power_monitor_gpu_available(const sf_power_monitor *pm) { return pm && pm->nvml_available; }
const char *sf_power_monitor_gpu_reason(const sf_power_monitor *pm) { return !pm ? "no monitor" : pm->nvml_reason; }
const char *sf_power_monitor_gpu_name(const sf_power_monitor *pm) { return pm && pm->nvml_available ? pm->gpu_name : ""; }

static void probe(sf_power_monitor *pm);

sf_power_monitor *sf_power_monitor_open(void) {
  sf_power_monitor *pm = calloc(1, sizeof *pm);
  if (pm) probe(pm);
  return pm;
}

static void probe(sf_power_monitor *pm) {
  DIR *d = opendir(POWERCAP);
  if (!d) {
    snprintf(pm->rapl_reason, sizeof pm->rapl_reason, "%s does not exist (no powercap driver, or a container without it)", POWERCAP);
  } else {
    struct dirent *e;
    while ((e = readdir(d)) && pm->n_domains < MAX_DOMAINS) {
      if (strncmp(e->d_name, "intel-rapl:", 11) || strchr(e->d_name + 11, ':')) continue; /* package domains only */
      char p[300];
      snprintf(p, sizeof p, "%s/%.255s/energy_uj", POWERCAP, e->d_name);
      FILE *f = fopen(p, "r");
      if (!f) {
        snprintf(pm->rapl_reason, sizeof pm->rapl_reason, "%s: %s (RAPL counters need root on kernels >= 5.10)", p, strerror(errno));
        continue;
      }
      fclose(f);
      snprintf(pm->domain[pm->n_domains], sizeof pm->domain[0], "%.255s", e->d_name);
      snprintf(pm->path[pm->n_domains], sizeof pm->path[0], "%s", p);
      char mp[512];
      snprintf(mp, sizeof mp, "%s/%.255s/max_energy_range_uj", POWERCAP, e->d_name);
      FILE *mf = fopen(mp, "r");
      if (mf) { if (fscanf(mf, "%lf", &pm->max_uj[pm->n_domains]) != 1) pm->max_uj[pm->n_domains] = 0; fclose(mf); }
      pm->n_domains++;
    }
    closedir(d);
    if (pm->n_domains) pm->rapl_available = 1;
    else if (!pm->rapl_reason[0]) snprintf(pm->rapl_reason, sizeof pm->rapl_reason, "no intel-rapl package domain under %s", POWERCAP);
  }
  void *h = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!h) {
    snprintf(pm->nvml_reason, sizeof pm->nvml_reason, "libnvidia-ml.so.1 cannot be loaded (no NVIDIA driver on this machine)");
    return;
  }
  int (*init)(void) = (int (*)(void))dlsym(h, "nvmlInit_v2");
  int (*handle)(unsigned, void **) = (int (*)(unsigned, void **))dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
  int (*name)(void *, char *, unsigned) = (int (*)(void *, char *, unsigned))dlsym(h, "nvmlDeviceGetName");
  int (*energy)(void *, unsigned long long *) = (int (*)(void *, unsigned long long *))dlsym(h, "nvmlDeviceGetTotalEnergyConsumption");
  void *dev = NULL;
  unsigned long long mj = 0;
  if (!init || !handle) snprintf(pm->nvml_reason, sizeof pm->nvml_reason, "libnvidia-ml.so.1 lacks nvmlInit_v2 / nvmlDeviceGetHandleByIndex_v2");
  else if (init() != 0) snprintf(pm->nvml_reason, sizeof pm->nvml_reason, "nvmlInit_v2 failed (no usable GPU)");
  else if (handle(0, &dev) != 0) snprintf(pm->nvml_reason, sizeof pm->nvml_reason, "NVML found no GPU 0");
  else {
    pm->nvml_available = 1;
    pm->nvml_lib = h;
    pm->nvml_dev = dev;
    if (!name || name(dev, pm->gpu_name, sizeof pm->gpu_name) != 0) snprintf(pm->gpu_name, sizeof pm->gpu_name, "GPU 0");
    if (energy && energy(dev, &mj) == 0) pm->nvml_energy = 1;
    else snprintf(pm->nvml_reason, sizeof pm->nvml_reason, "%s has no NVML energy counter (needs Volta or later)", pm->gpu_name);
    return;
  }
  dlclose(h);
}

double sf_power_monitor_gpu_joules(const sf_power_monitor *pm) {
  if (!pm || !pm->nvml_available || !pm->nvml_energy) return -1;
  int (*energy)(void *, unsigned long long *) = (int (*)(void *, unsigned long long *))dlsym(pm->nvml_lib, "nvmlDeviceGetTotalEnergyConsumption");
  unsigned long long mj = 0;
  if (!energy || energy(pm->nvml_dev, &mj) != 0) return -1;
  return (double)mj * 1e-3;
}

double sf_power_monitor_gpu_watts(const sf_power_monitor *pm) {
  if (!pm || !pm->nvml_available) return -1;
  int (*power)(void *, unsigned *) = (int (*)(void *, unsigned *))dlsym(pm->nvml_lib, "nvmlDeviceGetPowerUsage");
  unsigned mw = 0;
  if (!power || power(pm->nvml_dev, &mw) != 0) return -1;
  return (double)mw * 1e-3;
}

void sf_power_monitor_close(sf_power_monitor *pm) {
  if (!pm) return;
  if (pm->nvml_lib) {
    int (*shutdown)(void) = (int (*)(void))dlsym(pm->nvml_lib, "nvmlShutdown");
    if (shutdown) shutdown();
    dlclose(pm->nvml_lib);
  }
  free(pm);
}

double sf_power_monitor_rapl_joules(const sf_power_monitor *pm) {
  if (!pm || !pm->rapl_available) return -1;
  double total = 0;
  for (int i = 0; i < pm->n_domains; i++) {
    FILE *f = fopen(pm->path[i], "r");
    double uj = 0;
    if (!f) return -1;
    if (fscanf(f, "%lf", &uj) != 1) uj = 0;
    fclose(f);
    total += uj * 1e-6;
  }
  return total;
}
