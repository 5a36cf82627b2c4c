"""Pure-Python torch side of the safetensors shim."""
import json, struct, os
import torch
from . import safe_open, _read_header, SafetensorError

_DT = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
       "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
       "BOOL": torch.bool}
for _n, _a in (("F8_E4M3", "float8_e4m3fn"), ("F8_E5M2", "float8_e5m2"), ("U16", "uint16"), ("U32", "uint32"), ("U64", "uint64")):
    if hasattr(torch, _a):
        _DT[_n] = getattr(torch, _a)
_RDT = {v: k for k, v in _DT.items()}

def _decode(buf, dtype, shape):
    dt = _DT[dtype]
    if len(buf) == 0:
        return torch.empty(shape, dtype=dt)
    return torch.frombuffer(bytearray(buf), dtype=dt).reshape(shape).clone()

def storage_ptr(tensor):
    try:
        return tensor.untyped_storage().data_ptr()
    except Exception:
        return 0

def storage_size(tensor):
    try:
        return tensor.untyped_storage().nbytes()
    except Exception:
        return tensor.nelement() * tensor.element_size()

def _serialize(tensors, metadata=None):
    hdr, chunks, off = {}, [], 0
    if metadata is not None:
        hdr["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(t, torch.Tensor):
            raise SafetensorError(f"{name} is not a tensor")
        t = t.detach().to("cpu").contiguous()
        b = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        hdr[name] = {"dtype": _RDT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b); off += len(b)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)

def save(tensors, metadata=None):
    return _serialize(tensors, metadata)

def save_file(tensors, filename, metadata=None):
    with open(filename, "wb") as f:
        f.write(_serialize(tensors, metadata))

def load_file(filename, device="cpu"):
    with safe_open(filename, framework="pt", device=device) as f:
        return {k: f.get_tensor(k) for k in f.keys()}

def load(data):
    import io
    n = struct.unpack("<Q", data[:8])[0]
    hdr = json.loads(data[8:8 + n]); hdr.pop("__metadata__", None)
    base = 8 + n
    return {k: _decode(data[base + v["data_offsets"][0]: base + v["data_offsets"][1]], v["dtype"], v["shape"]) for k, v in hdr.items()}

def save_model(model, filename, metadata=None, force_contiguous=False):
    sd = {k: v.contiguous() if force_contiguous else v for k, v in model.state_dict().items()}
    seen, out = {}, {}
    for k, v in sd.items():  # drop shared tensors (tied weights), keep the first name
        key = (storage_ptr(v), v.storage_offset(), tuple(v.shape))
        if key in seen:
            continue
        seen[key] = k; out[k] = v
    save_file(out, filename, metadata)

def load_model(model, filename, strict=True, device="cpu"):
    sd = load_file(filename, device=device)
    r = model.load_state_dict(sd, strict=False)
    missing = [k for k in r.missing_keys]
    if strict and (r.unexpected_keys):
        raise RuntimeError(f"unexpected keys: {r.unexpected_keys}")
    return missing, list(r.unexpected_keys)
