#!/usr/bin/env python3
"""GPU (and CPU) baseline for the shipped ViT: accuracy, time and energy per image.

Loads models/vit/hf with transformers' ViTForImageClassification.from_pretrained (eager
attention, fp32) and the Fashion-MNIST test set from bench/gpu/data/ (pixel/255, the same
input as models/common.py and src/io/dataset.c). Then:

  1. reference accuracy on CPU over all 10,000 images; must be exactly 8870/10000 = 88.70%
     (exit 1 otherwise); predictions and logits compared with models/vit/expected_*.npy;
  2. GPU fp32 (TF32 off), batch 256 and batch 10000: warm-up, then whole passes over the
     10k images (CUDA-synchronised after each pass) until the window is >= --gpu-window s;
     energy from nvmlDeviceGetTotalEnergyConsumption read before/after the window, idle
     power = mean nvmlDeviceGetPowerUsage over --idle-seconds before any GPU work.
     Each GPU run's accuracy must also be 88.70% (exit 1 otherwise). Optionally also the
     SDPA attention implementation (reported only, not gated);
  3. CPU torch (threads 16 and 2 by default), both batch sizes, time only plus package
     energy from /sys/class/powercap/intel-rapl:*/energy_uj when readable.

Writes JSON to --out (default $OUT/gpu_ann.json), rewritten after every step so a timeout
still leaves partial results. Exit 0 = all gates passed; 1 = accuracy gate failed;
2 = CUDA required (--require-cuda) but unavailable, or a GPU/CPU step raised.

Local self-test without transformers or a GPU:
  /usr/bin/python3 bench/gpu/torch_gpu_ann.py --impl plain --quick --out /tmp/gpu_ann.json
"""
import argparse
import json
import os
import sys
import time
import traceback

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

N_EXPECTED = 10000
GPU_DEVICE = "cuda:0"  # a self-test harness may point this elsewhere


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impl", choices=["auto", "transformers", "plain"], default="auto",
                    help="transformers (device), plain (local self-test), auto (default)")
    ap.add_argument("--out", help="output JSON (default $OUT/gpu_ann.json, else out/gpu/gpu_ann.json)")
    ap.add_argument("--require-cuda", action="store_true", help="exit 2 if CUDA is unavailable")
    ap.add_argument("--batches", default="256,10000")
    ap.add_argument("--gpu-window", type=float, default=6.0, help="min measured seconds per GPU run")
    ap.add_argument("--gpu-warmup", type=float, default=1.0, help="min warm-up seconds per GPU run")
    ap.add_argument("--idle-seconds", type=float, default=2.0)
    ap.add_argument("--no-sdpa", action="store_true", help="skip the extra SDPA GPU runs")
    ap.add_argument("--cpu-threads", default="16,2")
    ap.add_argument("--cpu-window", type=float, default=5.0, help="min measured seconds per CPU run")
    ap.add_argument("--cpu-budget", type=float, default=20.0,
                    help="stop adding CPU passes once warm-up + window would exceed this")
    ap.add_argument("--quick", action="store_true",
                    help="local self-test: cpu threads 2, 1 s windows, idle 0.5 s")
    a = ap.parse_args()
    if a.quick:
        a.cpu_threads, a.cpu_window, a.gpu_window, a.idle_seconds = "2", 1.0, 1.0, 0.5
        a.cpu_budget = 10.0
    a.batches = [int(b) for b in a.batches.split(",") if b]
    a.cpu_threads = [int(t) for t in a.cpu_threads.split(",") if t]
    if not a.out:
        base = os.environ.get("OUT") or os.path.join(benchlib.ROOT, "out", "gpu")
        a.out = os.path.join(base, "gpu_ann.json")
    return a


class Report:
    def __init__(self, path):
        self.path = path
        self.data = {"schema": "spikeformer.gpu_ann/1", "ok": None, "exit_code": None,
                     "failures": [], "warnings": [], "unavailable": {}}
        self.accuracy_failed = False
        self.error = False
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def fail(self, msg, accuracy=False):
        print("FAIL: " + msg, file=sys.stderr, flush=True)
        self.data["failures"].append(msg)
        if accuracy:
            self.accuracy_failed = True
        else:
            self.error = True

    def warn(self, msg):
        print("WARNING: " + msg, file=sys.stderr, flush=True)
        self.data["warnings"].append(msg)

    def unavailable(self, what, reason):
        print("unavailable: %s: %s" % (what, reason), flush=True)
        self.data["unavailable"][what] = reason

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2, default=_json_default)
            f.write("\n")
        os.replace(tmp, self.path)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    return str(o)


def run_pass(forward, x, batch, preds):
    n = x.shape[0]
    for i in range(0, n, batch):
        preds[i:i + batch] = forward(x[i:i + batch]).argmax(1)


def timed_passes(forward, x, batch, preds, sync, warmup_s, window_s, budget_s=None,
                 energy=None):
    """Warm-up (>= 2 passes and >= warmup_s), then passes until the window >= window_s.

    energy: (read, delta) or None; read() is called right before and after the window and
    delta(before, after) gives joules.
    budget_s: CPU only; stop early (window may then be < window_s) once warm-up + window
    plus one more pass would exceed it. Returns a dict of measurements."""
    tw, nw = time.perf_counter(), 0
    while True:
        run_pass(forward, x, batch, preds)
        sync()
        nw += 1
        if nw >= 2 and time.perf_counter() - tw >= warmup_s:
            break
        if budget_s is not None and time.perf_counter() - tw > budget_s / 3:
            break
    warm = time.perf_counter() - tw
    e0 = energy[0]() if energy else None
    t0 = time.perf_counter()
    laps = []
    while True:
        ts = time.perf_counter()
        run_pass(forward, x, batch, preds)
        sync()
        te = time.perf_counter()
        laps.append(te - ts)
        el = te - t0
        if el >= window_s:
            break
        if budget_s is not None and warm + el + laps[-1] > budget_s:
            break
    t1 = time.perf_counter()
    e1 = energy[0]() if energy else None
    win = t1 - t0
    images = len(laps) * x.shape[0]
    out = {"batch": batch, "warmup_passes": nw, "warmup_s": round(warm, 4),
           "passes": len(laps), "images": images, "window_s": win,
           "pass_s_median": float(np.median(laps)), "pass_s_min": float(np.min(laps)),
           "s_per_image": win / images, "images_per_s": images / win}
    if e0 is not None and e1 is not None:
        ej = energy[1](e0, e1)
        out["energy_j"] = ej
        out["j_per_image"] = ej / images
        out["mean_power_w"] = ej / win
    return out


def accuracy_fields(preds, y, expected_preds):
    p = preds.detach().cpu().numpy().astype(np.int64)
    correct = int((p == y).sum())
    out = {"correct": correct, "accuracy": correct / len(y),
           "accuracy_pct": round(100.0 * correct / len(y), 4)}
    if expected_preds is not None:
        out["preds_differ_from_expected_preds_npy"] = int((p != expected_preds).sum())
    return out


def disable_tf32():
    """fp32 means fp32: no TF32 in cuBLAS or cuDNN. Where the fp32_precision API exists
    (torch >= 2.9) only it is used, every level set to "ieee" (mixing it with the legacy
    allow_tf32 flags, or leaving cuDNN conv and rnn different, makes torch raise); else the
    legacy flags. tf32_probe() then checks the effect numerically. Returns a description."""
    b = torch.backends

    def has(obj, name):  # torch < 2 raises AssertionError, not AttributeError, here
        try:
            return obj is not None and hasattr(obj, name)
        except Exception:  # noqa: BLE001
            return False

    targets = [("fp32_precision", b), ("cuda.matmul.fp32_precision", b.cuda.matmul),
               ("cudnn.fp32_precision", b.cudnn),
               ("cudnn.conv.fp32_precision", getattr(b.cudnn, "conv", None)),
               ("cudnn.rnn.fp32_precision", getattr(b.cudnn, "rnn", None))]
    if has(b.cuda.matmul, "fp32_precision"):
        out = {"api": "fp32_precision"}
        for name, obj in targets:
            if not has(obj, "fp32_precision"):
                out[name] = "absent"
                continue
            try:
                obj.fp32_precision = "ieee"
            except Exception as e:  # noqa: BLE001
                out[name + "_error"] = "%s: %s" % (type(e).__name__, e)
        for name, obj in targets:
            if has(obj, "fp32_precision"):
                try:
                    out[name] = obj.fp32_precision
                except Exception as e:  # noqa: BLE001
                    out[name] = "unreadable: %s" % e
        return out
    b.cuda.matmul.allow_tf32 = False
    b.cudnn.allow_tf32 = False
    return {"api": "allow_tf32", "matmul.allow_tf32": b.cuda.matmul.allow_tf32,
            "cudnn.allow_tf32": b.cudnn.allow_tf32}


def tf32_probe(dev):
    """Max relative error of a GPU fp32 matmul and patch conv vs float64 CPU; TF32 would
    give ~1e-3, IEEE fp32 ~1e-6."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(512, 512, generator=g)
    w = torch.randn(64, 1, 7, 7, generator=g)
    x = torch.rand(64, 1, 28, 28, generator=g)
    mm = (a.to(dev) @ a.to(dev)).cpu().double()
    mm_ref = a.double() @ a.double()
    cv = torch.nn.functional.conv2d(x.to(dev), w.to(dev), stride=7).cpu().double()
    cv_ref = torch.nn.functional.conv2d(x.double(), w.double(), stride=7)
    rel = lambda got, ref: float(((got - ref).abs().max() / ref.abs().max()).item())  # noqa: E731
    out = {"matmul_rel_err": rel(mm, mm_ref), "conv_rel_err": rel(cv, cv_ref)}
    out["tf32_suspected"] = max(out.values()) > 1e-4
    return out


def gpu_section(rep, args, model, forward, info, x_np, y, expected_preds):
    dev = torch.device(GPU_DEVICE)
    props = torch.cuda.get_device_properties(0)
    g = {"device": torch.cuda.get_device_name(0), "capability": "%d.%d" % (props.major, props.minor),
         "total_memory_gib": round(props.total_memory / 2**30, 2),
         "cuda_runtime": torch.version.cuda,
         "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
         "precision": "fp32", "tf32": disable_tf32(),
         "input_resident_on_gpu": True,
         "note": ("time per pass = forward + argmax over 10,000 images already on the GPU "
                  "(no host-device copy inside the window); synchronised after each pass")}
    rep.data["gpu"] = g
    g["tf32_probe"] = tf32_probe(dev)
    if g["tf32_probe"]["tf32_suspected"]:
        rep.warn("GPU fp32 probe error %s suggests TF32 is on" % g["tf32_probe"])
    nvml = benchlib.Nvml(0)
    g["nvml"] = nvml.info()
    if not nvml.ok:
        rep.unavailable("gpu_energy", nvml.reason)
    elif not nvml.energy_ok:
        rep.unavailable("gpu_energy", nvml.energy_reason)
    x = torch.from_numpy(x_np).to(dev)
    torch.cuda.synchronize()
    # Idle baseline: CUDA context up, model weights and data resident, nothing running.
    time.sleep(0.5)
    idle = nvml.idle_power(args.idle_seconds)
    g["idle_power"] = idle
    idle_w = idle.get("mean_w") if idle.get("available") else None
    if not idle.get("available") and nvml.ok:
        rep.unavailable("gpu_idle_power", idle.get("reason"))
    rep.save()

    impls = [("eager", model, forward, True)]
    if not args.no_sdpa:
        impls.append(("sdpa", None, None, False))
    g["runs"] = []
    for attn, m, fwd, gated in impls:
        if gated:
            gpu_runs(rep, args, g, nvml, idle_w, x, y, expected_preds, attn, m, fwd, gated)
            continue
        try:  # extra, ungated variant: its failure is recorded, not fatal
            m, fwd, sinfo = benchlib.load_vit(info["impl"], attn=attn)
            g[attn + "_load"] = sinfo
            gpu_runs(rep, args, g, nvml, idle_w, x, y, expected_preds, attn, m, fwd, gated)
        except Exception as e:  # noqa: BLE001
            rep.unavailable("gpu_" + attn, "%s: %s" % (type(e).__name__, e))
    del x
    torch.cuda.empty_cache()


def gpu_runs(rep, args, g, nvml, idle_w, x, y, expected_preds, attn, m, fwd, gated):
    dev = x.device
    runs = g["runs"]
    m.to(dev)
    for batch in args.batches:
        preds = torch.empty(x.shape[0], dtype=torch.int64, device=dev)
        torch.cuda.reset_peak_memory_stats(0)
        with torch.inference_mode():
            r = timed_passes(fwd, x, batch, preds, torch.cuda.synchronize,
                             args.gpu_warmup, args.gpu_window,
                             energy=(nvml.energy_j, lambda a, b: b - a)
                             if nvml.energy_ok else None)
        r.update({"attn_implementation": attn, "gated": gated,
                  "peak_mem_mib": round(torch.cuda.max_memory_allocated(0) / 2**20, 1)})
        r.update(accuracy_fields(preds, y, expected_preds))
        if "energy_j" in r and idle_w is not None:
            above = r["energy_j"] - idle_w * r["window_s"]
            r["energy_above_idle_j"] = above
            r["j_per_image_above_idle"] = above / r["images"]
        try:
            r["temperature_c_after"] = nvml.info().get("temperature_c") if nvml.ok else None
        except Exception:  # noqa: BLE001
            pass
        runs.append(r)
        print("GPU %-5s batch %5d: %d passes in %.2f s, %.3f us/image, %s J/image (%s above idle), acc %.2f%%"
              % (attn, batch, r["passes"], r["window_s"], 1e6 * r["s_per_image"],
                 _fmt(r.get("j_per_image")), _fmt(r.get("j_per_image_above_idle")),
                 r["accuracy_pct"]), flush=True)
        if gated and r["correct"] != benchlib.EXPECTED_CORRECT:
            rep.fail("GPU %s batch %d accuracy %d/10000, expected %d"
                     % (attn, batch, r["correct"], benchlib.EXPECTED_CORRECT), accuracy=True)
        rep.save()
    m.to("cpu")


def _fmt(v):
    return "n/a" if v is None else "%.3e" % v


def cpu_section(rep, args, forward, x_np, y, expected_preds):
    rapl = benchlib.Rapl()
    c = {"device": benchlib.cpu_name(), "logical_cpus": os.cpu_count(),
         "rapl": rapl.describe(), "runs": [],
         "note": "time only unless RAPL package energy is readable; RAPL covers whole CPU packages"}
    rep.data["cpu"] = c
    if not rapl.ok:
        rep.unavailable("cpu_energy", rapl.reason)
    else:
        r0, t0 = rapl.read(), time.perf_counter()
        time.sleep(args.idle_seconds)
        r1, t1 = rapl.read(), time.perf_counter()
        c["rapl_idle_power_w"] = rapl.delta_j(r0, r1) / (t1 - t0)
    rep.save()
    x = torch.from_numpy(x_np)
    for threads in args.cpu_threads:
        torch.set_num_threads(threads)
        for batch in args.batches:
            preds = torch.empty(x.shape[0], dtype=torch.int64)
            with torch.inference_mode():
                r = timed_passes(forward, x, batch, preds, lambda: None, 0.0, args.cpu_window,
                                 budget_s=args.cpu_budget,
                                 energy=(rapl.read, rapl.delta_j) if rapl.ok else None)
            if "energy_j" in r:
                r["energy_source"] = "rapl package energy_uj"
                if "rapl_idle_power_w" in c:
                    above = r["energy_j"] - c["rapl_idle_power_w"] * r["window_s"]
                    r["energy_above_idle_j"] = above
                    r["j_per_image_above_idle"] = above / r["images"]
            r["threads"] = torch.get_num_threads()
            r.update(accuracy_fields(preds, y, expected_preds))
            c["runs"].append(r)
            print("CPU %2d thr batch %5d: %d passes in %.2f s, %.3f us/image, %s J/image, acc %.2f%%"
                  % (threads, batch, r["passes"], r["window_s"], 1e6 * r["s_per_image"],
                     _fmt(r.get("j_per_image")), r["accuracy_pct"]), flush=True)
            if r["correct"] != benchlib.EXPECTED_CORRECT:
                rep.fail("CPU %d threads batch %d accuracy %d/10000, expected %d"
                         % (threads, batch, r["correct"], benchlib.EXPECTED_CORRECT), accuracy=True)
            rep.save()


def main():
    args = parse_args()
    rep = Report(args.out)
    d = rep.data
    tv, twhy = benchlib.transformers_version()
    d.update({"torch": torch.__version__, "transformers": tv, "host": benchlib.host_info(),
              "cuda_available": torch.cuda.is_available(), "args": vars(args)})
    if not tv:
        rep.unavailable("transformers", twhy)
    rep.save()

    x, y = benchlib.load_test_set()
    assert x.shape == (N_EXPECTED, 1, 28, 28) and y.shape == (N_EXPECTED,)
    d["data"] = {"source": "bench/gpu/data/t10k-*-idx*-ubyte.gz (sha256 verified)",
                 "images": int(x.shape[0]), "preprocessing": "float32 pixel/255, [N,1,28,28], no mean/std"}
    try:
        model, forward, info = benchlib.load_vit(args.impl, attn="eager")
    except Exception as e:  # noqa: BLE001
        rep.fail("cannot load the ViT (impl %s): %s: %s" % (args.impl, type(e).__name__, e))
        d["model"] = {"impl": args.impl, "traceback": traceback.format_exc()[-4000:]}
        d["ok"], d["exit_code"] = False, 2
        rep.save()
        return 2
    d["model"] = info
    expected_preds = np.load(os.path.join(benchlib.VIT_DIR, "expected_preds.npy"))
    expected_logits = np.load(os.path.join(benchlib.VIT_DIR, "expected_logits.npy"))
    d["model"]["expected_preds_npy_shape"] = list(expected_preds.shape)

    # ---- 1. reference accuracy (CPU, batch 256) --------------------------------
    torch.set_num_threads(max(1, min(16, os.cpu_count() or 1)))
    t0 = time.perf_counter()
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        logits = torch.cat([forward(xt[i:i + 256]) for i in range(0, N_EXPECTED, 256)])
    ref = accuracy_fields(logits.argmax(1), y, expected_preds)
    sample = np.load(os.path.join(benchlib.VIT_DIR, "sample_logits.npy"))
    ref.update({"device": "cpu", "batch": 256, "seconds": round(time.perf_counter() - t0, 3),
                "expected_correct": benchlib.EXPECTED_CORRECT,
                "max_abs_diff_vs_expected_logits_npy_first256":
                    float(np.abs(logits[:256].numpy() - expected_logits).max()),
                "max_abs_diff_vs_sample_logits_npy_first4":
                    float(np.abs(logits[:4].numpy() - sample).max())})
    d["reference_accuracy"] = ref
    print("reference (CPU, %s, batch 256): %d/10000 = %.2f%%, preds differing from "
          "expected_preds.npy: %d, max|logit diff| vs expected_logits.npy: %.2e"
          % (info["impl"], ref["correct"], ref["accuracy_pct"],
             ref["preds_differ_from_expected_preds_npy"],
             ref["max_abs_diff_vs_expected_logits_npy_first256"]), flush=True)
    if ref["correct"] != benchlib.EXPECTED_CORRECT:
        rep.fail("reference accuracy %d/10000 = %.2f%%, expected %d/10000"
                 % (ref["correct"], ref["accuracy_pct"], benchlib.EXPECTED_CORRECT), accuracy=True)
    if ref["preds_differ_from_expected_preds_npy"]:
        rep.warn("%d predictions differ from models/vit/expected_preds.npy"
                 % ref["preds_differ_from_expected_preds_npy"])
    rep.save()

    # ---- 2. GPU ----------------------------------------------------------------
    if torch.cuda.is_available():
        try:
            gpu_section(rep, args, model, forward, info, x, y, expected_preds)
        except Exception as e:  # noqa: BLE001
            rep.fail("GPU section raised %s: %s" % (type(e).__name__, e))
            d.setdefault("gpu", {})["traceback"] = traceback.format_exc()[-4000:]
    else:
        why = "torch.cuda.is_available() is False (torch %s, built with CUDA %s)" % (
            torch.__version__, torch.version.cuda)
        rep.unavailable("gpu", why)
        if args.require_cuda:
            rep.fail("CUDA required but unavailable: " + why)
    rep.save()

    # ---- 3. CPU timings ----------------------------------------------------------
    try:
        model.to("cpu")
        cpu_section(rep, args, forward, x, y, expected_preds)
    except Exception as e:  # noqa: BLE001
        rep.fail("CPU section raised %s: %s" % (type(e).__name__, e))
        d.setdefault("cpu", {})["traceback"] = traceback.format_exc()[-4000:]

    exit_code = 1 if rep.accuracy_failed else (2 if rep.error else 0)
    d["ok"] = not d["failures"]
    d["exit_code"] = exit_code
    rep.save()
    print("wrote %s  ok=%s exit=%d" % (args.out, d["ok"], exit_code), flush=True)
    if d["failures"]:
        print("FAILURES:\n  " + "\n  ".join(d["failures"]), file=sys.stderr, flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
