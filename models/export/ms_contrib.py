"""onnxruntime's contrib-operator domain (MatMulNBits, MultiHeadAttention), for the modules that write its nodes.
onnx alone, no torch: `python -m models.export.fuse_attention` imports it."""
import onnx
from onnx import helper

MS_DOMAIN = "com.microsoft"


def ensure_ms_opset(proto: onnx.ModelProto) -> None:
    """Declares the com.microsoft opset (version 1) once, as a model with contrib nodes must."""
    if not any(opset.domain == MS_DOMAIN for opset in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
