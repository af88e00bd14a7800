"""Shared helpers for bench/gpu/: the Fashion-MNIST test set shipped in bench/gpu/data/,
the shipped ViT (transformers, or a plain-torch stand-in for local self-tests only),
and NVML / RAPL energy readers that never raise (they carry a reason string instead).

Input convention (same as models/common.py and src/io/dataset.c): float32 [N,1,28,28]
= pixel / 255, no mean/std normalisation; the model returns raw logits [N,10].
"""
import glob
import gzip
import hashlib
import json
import os
import platform
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA_DIR = os.path.join(HERE, "data")
VIT_DIR = os.path.join(ROOT, "models", "vit")
VIT_HF_DIR = os.path.join(VIT_DIR, "hf")

# sha256 of the two files copied from /usr/share/datasets/fashion-mnist/ (the upstream
# Fashion-MNIST release files, unchanged).
DATA_FILES = {
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}

EXPECTED_CORRECT = 8870  # models/vit/reference.json: test_accuracy 0.887 on 10,000 images


# ----------------------------------------------------------------- data ----
def _read_idx(path):
    """Same reader as models/common.py::_read_idx."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: unsupported IDX header" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def verify_data(data_dir=DATA_DIR):
    for name, digest in DATA_FILES.items():
        path = os.path.join(data_dir, name)
        with open(path, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != digest:
            raise RuntimeError("%s: sha256 %s, expected %s" % (path, got, digest))


def load_test_set(data_dir=DATA_DIR):
    """(x float32 [10000,1,28,28] = pixel/255, y int64 [10000]) as numpy arrays.

    Identical (bit for bit) to models/common.py::load_fashion_mnist("test")."""
    verify_data(data_dir)
    x = _read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))
    y = _read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))
    x = (x.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    return np.ascontiguousarray(x), y.astype(np.int64)


# ---------------------------------------------------------------- model ----
def transformers_version():
    try:
        import transformers
        return transformers.__version__, None
    except Exception as e:  # noqa: BLE001
        return None, "import transformers failed: %s: %s" % (type(e).__name__, e)


def load_vit(impl="auto", attn="eager"):
    """Return (model, forward, info). forward(x) -> logits tensor.

    impl: "transformers" (ViTForImageClassification.from_pretrained), "plain" (the
    module tree of models/train_reference.py with the same safetensors weights; local
    self-test only, it has eager attention only), or "auto" (transformers if importable).
    """
    tv, why = transformers_version()
    if impl == "auto":
        impl = "transformers" if tv else "plain"
    info = {"impl": impl, "hf_dir": os.path.relpath(VIT_HF_DIR, ROOT)}
    if impl == "transformers":
        if not tv:
            raise RuntimeError(why)
        from transformers import ViTForImageClassification
        try:
            model, loading = ViTForImageClassification.from_pretrained(
                VIT_HF_DIR, attn_implementation=attn, output_loading_info=True)
            info["loading_info"] = {k: sorted(str(i) for i in v) for k, v in loading.items()
                                    if isinstance(v, (list, set, tuple))}
        except TypeError:
            model = ViTForImageClassification.from_pretrained(VIT_HF_DIR, attn_implementation=attn)
        info["transformers"] = tv
        info["attn_implementation"] = getattr(model.config, "_attn_implementation", attn)
        model = model.float().eval()
        info["weights_check"] = check_weights(model, os.path.join(VIT_HF_DIR, "model.safetensors"))

        def forward(x):
            return model(pixel_values=x).logits
    elif impl == "plain":
        if attn != "eager":
            raise RuntimeError("plain-torch stand-in implements eager attention only")
        sys.path.insert(0, os.path.join(ROOT, "models"))
        import common  # noqa: E402  (models/common.py)
        import train_reference as tr  # noqa: E402
        with open(os.path.join(VIT_HF_DIR, "config.json")) as f:
            cfg = json.load(f)
        model = tr.ViTForImageClassification({k: cfg[k] for k in tr.VIT_CONFIG})
        state = common.load_safetensors(os.path.join(VIT_HF_DIR, "model.safetensors"))
        model.load_state_dict(state, strict=True)
        model = model.float().eval()
        info["weights_check"] = check_weights(model, os.path.join(VIT_HF_DIR, "model.safetensors"))
        info["attn_implementation"] = "eager"
        info["note"] = ("plain-torch stand-in (models/train_reference.py module tree), "
                        "used only because transformers is not importable here: %s" % why)
        forward = model
    else:
        raise ValueError(impl)
    info["params"] = int(sum(p.numel() for p in model.parameters()))
    return model, forward, info


def read_safetensors(path):
    """Dependency-free safetensors reader (F32/F16/I64/I32) -> {name: numpy array}."""
    dt = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "BOOL": "?"}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + e], dtype=dt[meta["dtype"]]).reshape(meta["shape"])
    return out


def check_weights(model, path, ignore_missing=()):
    """Every tensor of the safetensors file must be in model.state_dict(), bit-identical.
    Raises RuntimeError otherwise (a silently random-initialised layer would still run).
    A library version that renames modules on load (transformers 5 does for some models) is
    matched by value: each file tensor must equal a distinct model tensor of the same shape."""
    sd = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    ref = read_safetensors(path)
    bad, renamed, used = [], {}, set()
    for k, v in ref.items():
        if k in sd and sd[k].shape == v.shape and np.array_equal(sd[k], v):
            used.add(k)
    for k, v in ref.items():
        if k in used:
            continue
        if k in sd:
            bad.append("%s: differs" % k)
            continue
        hit = next((m for m, w in sd.items() if m not in used and w.shape == v.shape and np.array_equal(w, v)), None)
        if hit is None:
            bad.append("%s: not in model (by name or by value)" % k)
        else:
            used.add(hit)
            renamed[k] = hit
    extra = sorted(k for k in sd if k not in used and k not in ref and k not in ignore_missing)
    if bad:
        raise RuntimeError("%s does not match the loaded model: %s" % (path, "; ".join(bad[:10])))
    return {"tensors_in_file": len(ref), "all_equal": True, "matched_by_value_after_rename": len(renamed),
            "renamed_examples": dict(list(renamed.items())[:4]), "model_tensors_not_in_file": extra}


# ----------------------------------------------------------------- NVML ----
class Nvml:
    """GPU energy/power through nvidia-ml-py (pynvml). Never raises: .reason says why not."""

    def __init__(self, torch_index=0):
        self.ok = False
        self.energy_ok = False
        self.reason = None
        self.energy_reason = None
        self.handle = None
        self.match = None
        try:
            import pynvml
        except Exception as e:  # noqa: BLE001
            self.reason = "import pynvml (nvidia-ml-py) failed: %s: %s" % (type(e).__name__, e)
            return
        self.nv = pynvml
        try:
            pynvml.nvmlInit()
        except Exception as e:  # noqa: BLE001
            self.reason = "nvmlInit failed: %s: %s" % (type(e).__name__, e)
            return
        try:
            self.handle, self.match = self._find_handle(torch_index)
        except Exception as e:  # noqa: BLE001
            self.reason = "no NVML device handle: %s: %s" % (type(e).__name__, e)
            return
        self.ok = True
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
            self.energy_ok = True
        except Exception as e:  # noqa: BLE001
            self.energy_reason = ("nvmlDeviceGetTotalEnergyConsumption failed: %s: %s"
                                  % (type(e).__name__, e))

    def _find_handle(self, torch_index):
        nv = self.nv
        n = nv.nvmlDeviceGetCount()
        uuid = None
        try:
            import torch
            uuid = str(torch.cuda.get_device_properties(torch_index).uuid)
        except Exception:  # noqa: BLE001
            pass
        if uuid:
            for i in range(n):
                h = nv.nvmlDeviceGetHandleByIndex(i)
                u = _s(nv.nvmlDeviceGetUUID(h))
                if uuid.lower() in u.lower():
                    return h, "uuid %s (nvml index %d)" % (u, i)
        if n >= 1:
            return nv.nvmlDeviceGetHandleByIndex(torch_index if torch_index < n else 0), \
                "nvml index %d of %d (uuid match unavailable)" % (min(torch_index, n - 1), n)
        raise RuntimeError("nvmlDeviceGetCount() == 0")

    def energy_j(self):
        if not self.energy_ok:
            return None
        return self.nv.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1000.0

    def power_w(self):
        return self.nv.nvmlDeviceGetPowerUsage(self.handle) / 1000.0

    def idle_power(self, seconds=2.0, period=0.05):
        """Mean of nvmlDeviceGetPowerUsage over `seconds` (GPU doing nothing), plus the
        energy counter's own average over the same interval."""
        if not self.ok:
            return {"available": False, "reason": self.reason}
        samples = []
        e0, t0 = self.energy_j(), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            try:
                samples.append(self.power_w())
            except Exception as e:  # noqa: BLE001
                return {"available": False, "reason": "nvmlDeviceGetPowerUsage failed: %s" % e}
            time.sleep(period)
        e1, t1 = self.energy_j(), time.perf_counter()
        out = {"available": True, "seconds": round(t1 - t0, 3), "samples": len(samples),
               "mean_w": float(np.mean(samples)), "min_w": float(np.min(samples)),
               "max_w": float(np.max(samples))}
        if e0 is not None:
            out["counter_mean_w"] = (e1 - e0) / (t1 - t0)
        return out

    def info(self):
        if not self.ok:
            return {"available": False, "reason": self.reason}
        nv, h = self.nv, self.handle
        out = {"available": True, "match": self.match,
               "energy_counter": self.energy_ok, "energy_counter_reason": self.energy_reason}
        for key, fn in (("name", lambda: _s(nv.nvmlDeviceGetName(h))),
                        ("driver", lambda: _s(nv.nvmlSystemGetDriverVersion())),
                        ("cuda_driver", lambda: nv.nvmlSystemGetCudaDriverVersion_v2()),
                        ("power_limit_w", lambda: nv.nvmlDeviceGetPowerManagementLimit(h) / 1000.0),
                        ("pstate", lambda: nv.nvmlDeviceGetPerformanceState(h)),
                        ("temperature_c", lambda: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)),
                        ("sm_clock_mhz", lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)),
                        ("mem_clock_mhz", lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)),
                        ("max_sm_clock_mhz", lambda: nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_SM))):
            try:
                out[key] = fn()
            except Exception as e:  # noqa: BLE001
                out[key] = None
                out[key + "_reason"] = "%s: %s" % (type(e).__name__, e)
        return out


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


# ----------------------------------------------------------------- RAPL ----
POWERCAP = "/sys/class/powercap"


class Rapl:
    """CPU package energy from /sys/class/powercap/intel-rapl:N/energy_uj (package domains
    only, as src/energy/power_monitor.c). Never raises: .reason says why not."""

    def __init__(self, base=POWERCAP):
        self.ok = False
        self.reason = None
        self.domains = []  # (name, path, max_range_uj)
        if not os.path.exists(base):
            self.reason = "missing dir: %s does not exist" % base
            return
        try:
            entries = sorted(os.listdir(base))
        except OSError as e:
            self.reason = "cannot list %s: %s" % (base, e)
            return
        pkgs = [e for e in entries if e.startswith("intel-rapl:") and ":" not in e[len("intel-rapl:"):]]
        if not pkgs:
            self.reason = "no intel-rapl:N package domain under %s (entries: %s)" % (
                base, ", ".join(entries) or "none")
            return
        errors = []
        for e in pkgs:
            path = os.path.join(base, e, "energy_uj")
            try:
                with open(path) as f:
                    int(f.read().strip())
            except (OSError, ValueError) as err:
                errors.append("%s: %s: %s" % (path, type(err).__name__, err))
                continue
            name = e
            try:
                with open(os.path.join(base, e, "name")) as f:
                    name = "%s (%s)" % (e, f.read().strip())
            except OSError:
                pass
            rng = None
            try:
                with open(os.path.join(base, e, "max_energy_range_uj")) as f:
                    rng = int(f.read().strip())
            except (OSError, ValueError):
                pass
            self.domains.append((name, path, rng))
        if self.domains:
            self.ok = True
            if errors:
                self.reason = "some domains unreadable: " + "; ".join(errors)
        else:
            self.reason = "; ".join(errors)

    def read(self):
        if not self.ok:
            return None
        vals = []
        for _, path, _ in self.domains:
            with open(path) as f:
                vals.append(int(f.read().strip()))
        return vals

    def delta_j(self, a, b):
        if a is None or b is None:
            return None
        tot = 0
        for (_, _, rng), x0, x1 in zip(self.domains, a, b):
            d = x1 - x0
            if d < 0 and rng:
                d += rng
            tot += d
        return tot * 1e-6

    def describe(self):
        return {"available": self.ok, "reason": self.reason,
                "domains": [d[0] for d in self.domains]}


# ------------------------------------------------------------ host info ----
def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info():
    return {"cpu": cpu_name(), "logical_cpus": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version()}


def powercap_listing():
    if not os.path.exists(POWERCAP):
        return "missing dir: %s" % POWERCAP
    return sorted(glob.glob(os.path.join(POWERCAP, "*")))
