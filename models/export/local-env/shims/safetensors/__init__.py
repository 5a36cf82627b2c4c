"""Pure-Python stand-in for the compiled `safetensors` package (local verification only).
Implements the file format (8-byte LE header size + JSON header + raw little-endian data)
for torch tensors: safe_open (framework="pt"), and safetensors.torch.{load_file,save_file,load,save,
storage_ptr,storage_size,load_model,save_model}. Not the real thing; no mmap, no numpy/flax APIs."""
__version__ = "0.8.0"
import json, struct

class SafetensorError(Exception):
    pass

def _read_header(f):
    n = struct.unpack("<Q", f.read(8))[0]
    hdr = json.loads(f.read(n))
    return 8 + n, hdr

class _Slice:
    def __init__(self, opener, name):
        self._o, self._n = opener, name
    def get_shape(self):
        return list(self._o._hdr[self._n]["shape"])
    def get_dtype(self):
        return self._o._hdr[self._n]["dtype"]
    def __getitem__(self, idx):
        return self._o.get_tensor(self._n)[idx]

class safe_open:
    def __init__(self, filename, framework="pt", device="cpu", **_ignored):  # e.g. backend="mmap"
        if framework not in ("pt", "torch"):
            raise NotImplementedError("safetensors shim: only framework='pt' is supported")
        self._fn, self._device = str(filename), device
        with open(self._fn, "rb") as f:
            self._off, hdr = _read_header(f)
        self._meta = hdr.pop("__metadata__", None)
        self._hdr = hdr
    def __enter__(self):
        return self
    def __exit__(self, *a):
        return False
    def keys(self):
        return list(self._hdr.keys())
    def offset_keys(self):
        return sorted(self._hdr, key=lambda k: self._hdr[k]["data_offsets"][0])
    def metadata(self):
        return self._meta
    def get_slice(self, name):
        return _Slice(self, name)
    def get_tensor(self, name):
        from .torch import _decode
        info = self._hdr[name]
        s, e = info["data_offsets"]
        with open(self._fn, "rb") as f:
            f.seek(self._off + s)
            buf = f.read(e - s)
        t = _decode(buf, info["dtype"], info["shape"])
        return t.to(self._device) if str(self._device) != "cpu" else t
