"""The MatMulNBits packer (models/export/block_quantize.py) against ONNX Runtime itself: single-node MatMulNBits
models, for 4 and 8 bits, both schemes and three block sizes (K not a multiple of the block included), run by
onnxruntime-node through the runtime's ModelSession (models/export/verify-bundle.ts) must give A @ W^T with W the
numpy dequantization of the packed bytes, within float32 rounding (1e-4 of the output's scale). Also: the
dequantization is within half a step of the weight, and a packing with swapped nibbles is caught.
Needs torch's environment only for numpy/onnx, and Node: run by test/models/exporter-python.test.ts."""
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.export.block_quantize import dequantize, quantize_blockwise
from models.export.matmul_nbits import ensure_ms_opset, quantized_node

REPO = Path(__file__).resolve().parents[3]
rng = np.random.default_rng(0)
checks = 0


def single_node_model(quantized, k: int) -> onnx.ModelProto:
    matmul = helper.make_node("MatMul", ["A", "W"], ["Y"], name="/model/layers.0/mlp/up_proj/MatMul")
    node, arrays = quantized_node(matmul, quantized, prefix="w")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("A", TensorProto.FLOAT, ["m", k])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["m", quantized.n])],
                              [numpy_helper.from_array(a, name) for name, a in arrays.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    ensure_ms_opset(model)
    return model


def run_runtime(folder: Path, cases: list[dict]) -> subprocess.CompletedProcess:
    (folder / "verify" / "cases.json").write_text(json.dumps({"precision": "float32", "cases": cases}))
    return subprocess.run(["npx", "tsx", "models/export/verify-bundle.ts", str(folder)], cwd=REPO, capture_output=True, text=True)


with tempfile.TemporaryDirectory() as scratch:
    folder = Path(scratch)
    (folder / "verify").mkdir()
    cases, broken_cases = [], []
    for bits in (4, 8):
        for scheme in ("asymmetric", "symmetric"):
            for block_size, n, k in ((16, 24, 80), (32, 40, 200), (128, 16, 384)):
                w = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
                q = quantize_blockwise(w, bits, block_size, scheme)
                reference = dequantize(q)
                step = np.abs(q.scales).max()
                # rounding to the nearest level: at most half a step from the weight; symmetric blocks can also clip
                # a value of the other sign than the extreme by up to one step (the range is [-2^(b-1), 2^(b-1) - 1])
                bound = 0.5 if scheme == "asymmetric" else 1.0
                assert np.abs(reference - w).max() <= bound * step * (1 + 1e-5), (bits, scheme, block_size)
                checks += 1
                name = f"q{bits}_{scheme}_{block_size}"
                onnx.save(single_node_model(q, k), str(folder / f"{name}.onnx"))
                # one row (a decode step: the kernels' GEMV path) and several (a prefill)
                for rows in (1, 7):
                    a = rng.standard_normal((rows, k)).astype(np.float32)
                    np.save(folder / "verify" / f"{name}.a{rows}.npy", a)
                    y = (a.astype(np.float64) @ reference.T.astype(np.float64)).astype(np.float32)
                    np.save(folder / "verify" / f"{name}.y{rows}.npy", y)
                    cases.append({"model": name, "file": f"{name}.onnx", "case": f"rows{rows}",
                                  "inputs": {"A": {"npy": f"{name}.a{rows}.npy"}}, "outputs": {"Y": {"npy": f"{name}.y{rows}.npy"}}})
                if bits == 4:
                    # the same weights packed with the high and low nibbles swapped must not pass
                    swapped = (q.packed >> 4) | ((q.packed & 0x0F) << 4)
                    bad = type(q)(swapped.astype(np.uint8), q.scales, q.zero_points, q.bits, q.block_size, q.n, q.k)
                    onnx.save(single_node_model(bad, k), str(folder / f"{name}_swapped.onnx"))
                    broken_cases.append(dict(cases[-1], file=f"{name}_swapped.onnx", model=f"{name}_swapped"))
    done = run_runtime(folder, cases)
    print(done.stdout)
    assert done.returncode == 0, done.stderr
    checks += len(cases)
    # every nibble-swapped packing must fail on its own row
    done = run_runtime(folder, broken_cases)
    failed = [line for line in done.stdout.splitlines() if "FAIL (>" in line]
    assert done.returncode == 1 and len(failed) == len(broken_cases), f"nibble-swapped packings passed:\n{done.stdout}{done.stderr}"
    checks += len(failed)
print("checks passed:", checks)
