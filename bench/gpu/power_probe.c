/* Energy of one command measured by SpikeFormer's PowerMonitor (RAPL package counters, NVML GPU
 * energy counter), or the reason each cannot be read here. Prints one JSON object.
 *   build: cc -O2 -Iinclude -Isrc bench/gpu/power_probe.c src/energy/power_monitor.c -ldl -o power_probe
 *   usage: power_probe [-o FILE.json] CMD [ARGS...] */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spikeformer/energy.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void json_str(FILE *o, const char *k, const char *v) {
  fprintf(o, "  \"%s\": \"", k);
  for (; *v; v++) {
    if (*v == '"' || *v == '\\') fputc('\\', o);
    fputc(*v, o);
  }
  fprintf(o, "\",\n");
}

int main(int argc, char **argv) {
  FILE *o = stdout;
  if (argc > 2 && !strcmp(argv[1], "-o")) {
    if (!(o = fopen(argv[2], "w"))) { perror(argv[2]); return 2; }
    argv += 2;
    argc -= 2;
  }
  if (argc < 2) { fprintf(stderr, "usage: power_probe [-o FILE.json] CMD [ARGS...]\n"); return 2; }
  sf_power_monitor *pm = sf_power_monitor_open();
  if (!pm) return 1;
  double w0 = sf_power_monitor_gpu_watts(pm);
  double g0 = sf_power_monitor_gpu_joules(pm), j0 = sf_power_monitor_rapl_joules(pm), t0 = now();
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    perror(argv[1]);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  double g1 = sf_power_monitor_gpu_joules(pm), j1 = sf_power_monitor_rapl_joules(pm), t1 = now();
  fprintf(o, "{\n");
  json_str(o, "command", argv[1]);
  fprintf(o, "  \"seconds\": %.3f,\n", t1 - t0);
  json_str(o, "gpu", sf_power_monitor_gpu_name(pm));
  if (g0 >= 0 && g1 >= 0) fprintf(o, "  \"gpu_joules\": %.3f,\n  \"gpu_watts_before\": %.1f,\n", g1 - g0, w0);
  else json_str(o, "gpu_unavailable_because", sf_power_monitor_gpu_reason(pm));
  if (j0 >= 0 && j1 >= 0) fprintf(o, "  \"rapl_package_joules\": %.3f,\n", j1 - j0);
  else json_str(o, "rapl_unavailable_because", sf_power_monitor_rapl_reason(pm));
  fprintf(o, "  \"exit_status\": %d\n}\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  if (o != stdout) fclose(o);
  sf_power_monitor_close(pm);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
