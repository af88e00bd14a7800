"""The package's surface: public headers only, every public call typed and documented, the
library's status names and struct sizes as the package mirrors them."""
import inspect
import re

import spikeformer as sf
from spikeformer import _lib
from conftest import ROOT


def test_only_public_api():
    """Every C function the package declares is SF_API in include/spikeformer/ (nothing internal)."""
    headers = "\n".join(p.read_text() for p in (ROOT / "include" / "spikeformer").glob("*.h"))
    declared = set(re.findall(r"SF_API[^;(]*?\b(sf_\w+)\s*\(", headers))
    missing = sorted(set(_lib.FUNCTIONS) - declared)
    assert not missing, f"not in the public headers: {missing}"


def test_every_declared_function_has_types():
    L = _lib.lib()
    for name in _lib.FUNCTIONS:
        f = getattr(L, name)
        assert f.argtypes is not None, name


def test_status_names_and_layouts():
    L = _lib.lib()
    for code, name in _lib.STATUS_NAMES.items():
        assert L.sf_status_name(code).decode() == name
    for st in _lib.MIRRORED:
        assert L.sf_struct_size(st.__name__.encode()) == __import__("ctypes").sizeof(st), st.__name__
    assert L.sf_struct_size(b"sf_no_such_struct") == 0


def public_callables():
    for name in sf.__all__:
        obj = getattr(sf, name)
        if inspect.isclass(obj):
            yield name, obj
            for mname, m in vars(obj).items():
                if mname.startswith("_") and mname not in ("__init__",):
                    continue
                if isinstance(m, property):
                    yield f"{name}.{mname}", m.fget
                elif callable(m) or isinstance(m, classmethod):
                    yield f"{name}.{mname}", getattr(m, "__func__", m)
        elif callable(obj):
            yield name, obj


def test_typed_and_documented():
    for name, obj in public_callables():
        if name.endswith("__init__"):
            continue
        assert inspect.getdoc(obj), f"{name} has no docstring"
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            assert sig.return_annotation is not inspect.Signature.empty, f"{name}: no return type"
            for p in sig.parameters.values():
                if p.name not in ("self", "cls"):
                    assert p.annotation is not inspect.Parameter.empty, f"{name}: parameter {p.name} has no type"
    assert (ROOT / "python" / "spikeformer" / "py.typed").exists()
