/* Experiment tracking: runs, parameters and metrics written to an MLflow-compatible local file
 * store (DIR/<experiment id>/<run id>/{meta.yaml, params/, metrics/, tags/}), so that
 * `mlflow ui --backend-store-uri DIR` shows them. Experiment 0 ("Default") is created if missing. */
#ifndef SPIKEFORMER_MLFLOW_H
#define SPIKEFORMER_MLFLOW_H
#include "spikeformer/export.h"
#include "spikeformer/status.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_mlflow_run sf_mlflow_run;

SF_API sf_status sf_mlflow_begin(const char *store_dir, const char *run_name, sf_mlflow_run **out);
SF_API sf_status sf_mlflow_param(sf_mlflow_run *r, const char *key, const char *value);
SF_API sf_status sf_mlflow_metric(sf_mlflow_run *r, const char *key, double value, long step);
/* Marks the run FINISHED (ok) or FAILED and frees it. */
SF_API sf_status sf_mlflow_end(sf_mlflow_run *r, int ok);
SF_API const char *sf_mlflow_run_id(const sf_mlflow_run *r);

#ifdef __cplusplus
}
#endif
#endif
