"""Import-only shim for the compiled `tokenizers` package: every name resolves to a
placeholder class whose construction/call raises NotImplementedError('shim')."""
__version__ = "0.23.0"
import sys, types

class _ShimMeta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _make(f"{cls.__name__}.{name}")

def _make(name):
    def _raise(*a, **k):
        raise NotImplementedError(f"shim: tokenizers.{name} is not available (compiled package missing)")
    return _ShimMeta(name, (), {"__init__": _raise, "__call__": _raise, "__module__": "tokenizers"})

def _module_getattr(modname):
    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        obj = _make(f"{modname}{name}")
        setattr(sys.modules[__name__ if not modname else "tokenizers." + modname.rstrip(".")], name, obj)
        return obj
    return __getattr__

__getattr__ = _module_getattr("")
for _sub in ("decoders", "models", "normalizers", "pre_tokenizers", "processors", "trainers", "implementations", "tools"):
    _m = types.ModuleType(f"tokenizers.{_sub}")
    _m.__getattr__ = _module_getattr(_sub + ".")
    sys.modules[f"tokenizers.{_sub}"] = _m
    globals()[_sub] = _m
