#!/usr/bin/env python3
"""Check the committed Hugging-Face fixtures against the REAL transformers library.

The fixtures were generated without transformers (models/make_hf_text.py and
models/train_reference.py re-implement its modules). This loads each one with
transformers' from_pretrained (class from config.json "architectures", eager attention,
fp32, eval, CPU), feeds the committed inputs and reports max |diff| against every expected
output:

  models/hf_text/{bert_cls,bert_base,gpt2_lm,gpt2_base}: input_ids.npy + attention_mask.npy
      (int64 [2,16]; no token_type_ids) -> expected_output_<i>.npy, i.e.
      bert_cls: logits; bert_base: last_hidden_state, pooler_output;
      gpt2_lm: logits; gpt2_base: last_hidden_state
  models/vit/hf: sample_input.npy -> sample_logits.npy, and the first 256 test images
      (bench/gpu/data, pixel/255) -> expected_logits.npy

It also checks that every tensor of each model.safetensors ended up in the loaded model
unchanged. Writes JSON (default $OUT/hf_check.json), prints a table; exit 1 if any
max |diff| > --tol (1e-4) or a fixture could not be checked (the JSON is written first).

Local self-test without transformers: --impl plain uses the re-implementations that made
the fixtures (this only tests the plumbing of this script, not the fixtures).
"""
import argparse
import json
import os
import sys
import traceback

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

TEXT_DIR = os.path.join(benchlib.ROOT, "models", "hf_text")
TEXT_FIXTURES = ["bert_cls", "bert_base", "gpt2_lm", "gpt2_base"]
# ModelOutput field behind expected_output_<i>.npy, per architecture.
OUTPUTS = {
    "BertForSequenceClassification": ["logits"],
    "BertModel": ["last_hidden_state", "pooler_output"],
    "GPT2LMHeadModel": ["logits"],
    "GPT2Model": ["last_hidden_state"],
    "ViTForImageClassification": ["logits"],
}
# Tensors a model may have beyond its safetensors file (tied lm_head, buffers).
MAY_BE_ABSENT = ("lm_head.weight",)


def load_transformers(arch, path):
    import transformers
    cls = getattr(transformers, arch, None)
    note = None
    if cls is None:
        cls, note = transformers.AutoModel, "%s not in transformers; used AutoModel" % arch
    model = cls.from_pretrained(path, attn_implementation="eager")
    model = model.float().eval()
    return model, {"class": type(model).__name__, "note": note,
                   "attn_implementation": getattr(model.config, "_attn_implementation", None)}


def load_plain(arch, path):
    """Self-test stand-in: the modules that generated the fixtures."""
    sys.path.insert(0, os.path.join(benchlib.ROOT, "models"))
    if arch == "ViTForImageClassification":
        model, _, info = benchlib.load_vit("plain")
        return model, {"class": "train_reference." + arch, "note": info["note"]}
    import make_hf_text as mk
    with open(os.path.join(path, "config.json")) as f:
        cfg_d = json.load(f)
    cfg = (mk.BertConfig if cfg_d["model_type"] == "bert" else mk.GPT2Config)(**cfg_d)
    model = getattr(mk, arch)(cfg)
    state = {k: torch.from_numpy(v.copy())
             for k, v in benchlib.read_safetensors(os.path.join(path, "model.safetensors")).items()}
    model.load_state_dict(state, strict=False)
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    return model.float().eval(), {"class": "make_hf_text." + arch,
                                  "note": "plain-torch stand-in (self-test of this script only)"}


def outputs_of(arch, out):
    names = OUTPUTS.get(arch)
    if isinstance(out, torch.Tensor):
        out = (out,)
    if isinstance(out, (tuple, list)):  # stand-in modules return tuples (return_dict=False)
        return [t for t in out if t is not None], names or []
    if names is None:
        names = [k for k in out.keys() if isinstance(out[k], torch.Tensor)]
    return [getattr(out, n) for n in names], names


def run_text(name, loader, impl):
    d = os.path.join(TEXT_DIR, name)
    with open(os.path.join(d, "config.json")) as f:
        arch = json.load(f)["architectures"][0]
    rec = {"fixture": name, "path": "models/hf_text/" + name, "architecture": arch, "outputs": []}
    model, info = loader(arch, d)
    rec.update(info)
    rec["weights_check"] = benchlib.check_weights(model, os.path.join(d, "model.safetensors"),
                                                  ignore_missing=MAY_BE_ABSENT)
    ids = np.load(os.path.join(d, "input_ids.npy"))
    mask = np.load(os.path.join(d, "attention_mask.npy"))
    rec["inputs"] = {"input_ids": [list(ids.shape), str(ids.dtype)],
                     "attention_mask": [list(mask.shape), str(mask.dtype)]}
    kw = {"input_ids": torch.from_numpy(ids.astype(np.int64)),
          "attention_mask": torch.from_numpy(mask.astype(np.int64))}
    if impl == "transformers" and arch.startswith("GPT2"):
        kw["use_cache"] = False
    with torch.no_grad():
        out = model(**kw)
    got, names = outputs_of(arch, out)
    i = 0
    while os.path.exists(os.path.join(d, "expected_output_%d.npy" % i)):
        exp = np.load(os.path.join(d, "expected_output_%d.npy" % i))
        rec["outputs"].append(compare("expected_output_%d.npy" % i,
                                      names[i] if i < len(names) else "output[%d]" % i,
                                      got[i] if i < len(got) else None, exp))
        i += 1
    return rec


def run_vit(loader, impl):
    d = benchlib.VIT_HF_DIR
    arch = "ViTForImageClassification"
    rec = {"fixture": "vit", "path": "models/vit/hf", "architecture": arch, "outputs": []}
    model, info = loader(arch, d)
    rec.update(info)
    rec["weights_check"] = benchlib.check_weights(model, os.path.join(d, "model.safetensors"))

    def logits(x):
        with torch.no_grad():
            if impl == "transformers":
                return model(pixel_values=torch.from_numpy(x)).logits
            return model(torch.from_numpy(x))

    sx = np.load(os.path.join(benchlib.VIT_DIR, "sample_input.npy"))
    rec["outputs"].append(compare("sample_logits.npy (input sample_input.npy)", "logits",
                                  logits(sx), np.load(os.path.join(benchlib.VIT_DIR, "sample_logits.npy"))))
    x, _ = benchlib.load_test_set()
    rec["outputs"].append(compare("expected_logits.npy (first 256 test images)", "logits",
                                  logits(x[:256]),
                                  np.load(os.path.join(benchlib.VIT_DIR, "expected_logits.npy"))))
    return rec


def compare(expected_name, output_name, got, exp):
    r = {"expected": expected_name, "output": output_name, "shape": list(exp.shape)}
    if got is None:
        r.update({"max_abs_diff": None, "error": "model produced no such output"})
        return r
    g = got.detach().cpu().numpy()
    if g.shape != exp.shape:
        r.update({"max_abs_diff": None, "error": "shape %s != expected %s" % (list(g.shape), list(exp.shape))})
        return r
    diff = np.abs(g.astype(np.float64) - exp.astype(np.float64))
    r["max_abs_diff"] = float(diff.max())
    r["max_abs_expected"] = float(np.abs(exp).max())
    r["all_finite"] = bool(np.isfinite(g).all())
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impl", choices=["auto", "transformers", "plain"], default="transformers",
                    help="transformers (default; the point of this script) or plain (self-test)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--out", help="output JSON (default $OUT/hf_check.json, else out/gpu/hf_check.json)")
    a = ap.parse_args()
    if not a.out:
        a.out = os.path.join(os.environ.get("OUT") or os.path.join(benchlib.ROOT, "out", "gpu"),
                             "hf_check.json")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    tv, twhy = benchlib.transformers_version()
    impl = a.impl
    if impl == "auto":
        impl = "transformers" if tv else "plain"
    loader = load_transformers if impl == "transformers" else load_plain
    report = {"schema": "spikeformer.hf_check/1", "impl": impl, "transformers": tv,
              "transformers_import_error": twhy, "torch": torch.__version__,
              "device": "cpu", "dtype": "float32", "tol": a.tol, "fixtures": []}

    jobs = [(n, (lambda n=n: run_text(n, loader, impl))) for n in TEXT_FIXTURES]
    jobs.append(("vit", lambda: run_vit(loader, impl)))
    failed = []
    for name, job in jobs:
        try:
            rec = job()
        except Exception as e:  # noqa: BLE001
            rec = {"fixture": name, "error": "%s: %s" % (type(e).__name__, e),
                   "traceback": traceback.format_exc()[-3000:], "outputs": []}
        ok = "error" not in rec and bool(rec["outputs"]) and all(
            o.get("max_abs_diff") is not None and o["max_abs_diff"] <= a.tol and o.get("all_finite", True)
            for o in rec["outputs"])
        rec["ok"] = ok
        if not ok:
            failed.append(name)
        report["fixtures"].append(rec)

    report["ok"] = not failed
    report["failed"] = failed
    with open(a.out + ".tmp", "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    os.replace(a.out + ".tmp", a.out)

    print("impl=%s transformers=%s torch=%s tol=%.0e" % (impl, tv, torch.__version__, a.tol))
    print("%-10s %-43s %-45s %-18s %-10s %s" % ("fixture", "class", "expected file", "output", "max|diff|", "ok"))
    for rec in report["fixtures"]:
        if "error" in rec:
            print("%-10s ERROR %s" % (rec["fixture"], rec["error"]))
            continue
        for o in rec["outputs"]:
            md = o.get("max_abs_diff")
            print("%-10s %-43s %-45s %-18s %-10s %s" % (
                rec["fixture"], rec.get("class", "?"), o["expected"], o["output"],
                "n/a" if md is None else "%.3e" % md,
                "ok" if md is not None and md <= a.tol else "FAIL " + o.get("error", "")))
    print("wrote %s: %s" % (a.out, "all within tolerance" if not failed else "FAILED: " + ", ".join(failed)))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
