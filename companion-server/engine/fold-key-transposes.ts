// The LLaMA decoder computes q k^T over the whole KV cache: transformers' `query @ key.transpose(2, 3)`, which
// torch.onnx writes as a Transpose node that ONNX Runtime does not fold away (its input is a graph output). On
// the CPU provider it copied every layer's key cache once more for every generated token: 15-24 % of a 4-bit
// 7B's decode time (models/export/VERIFICATION.md). Rewritten here as one com.microsoft FusedMatMul with
// transB, which reads the keys in place. Done at load time for the CPU provider only: the WebGPU and CoreML
// providers have no FusedMatMul, and a bundle must stay the same file for every provider.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const MICROSOFT_DOMAIN = 'com.microsoft';
/** Swaps the last two axes of [batch, heads, positions, head size]. */
const SWAP_LAST_TWO = [0, 1, 3, 2];

/**
 * Rewrites every MatMul(a, Transpose(b, perm [0,1,3,2])) whose Transpose feeds nothing else into
 * FusedMatMul(a, b, transB=1). Returns the new model bytes and how many products were rewritten
 * (0: `bytes` is the input, untouched).
 */
export function foldKeyTransposes(modelBytes: Uint8Array): { bytes: Uint8Array; folded: number } {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph;
  if (!graph?.node) return { bytes: modelBytes, folded: 0 };
  const producers = new Map<string, onnxProto.onnx.INodeProto>();
  const consumerCount = new Map<string, number>();
  for (const node of graph.node) {
    for (const output of node.output ?? []) producers.set(output, node);
    for (const input of node.input ?? []) consumerCount.set(input, (consumerCount.get(input) ?? 0) + 1);
  }
  const graphOutputs = new Set((graph.output ?? []).map((output) => output.name));

  const dropped = new Set<onnxProto.onnx.INodeProto>();
  let folded = 0;
  for (const node of graph.node) {
    if (node.opType !== 'MatMul' || (node.domain ?? '') !== '' || node.input?.length !== 2) continue;
    const transpose = producers.get(node.input[1]);
    const transposed = transpose?.output?.[0];
    if (!transpose || transpose.opType !== 'Transpose' || !transposed || graphOutputs.has(transposed) || consumerCount.get(transposed) !== 1) continue;
    const perm = transpose.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
    if (perm?.join() !== SWAP_LAST_TWO.join()) continue;
    node.opType = 'FusedMatMul';
    node.domain = MICROSOFT_DOMAIN;
    node.input = [node.input[0], transpose.input![0]];
    node.attribute = [
      { name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
      { name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 },
    ];
    dropped.add(transpose);
    folded += 1;
  }
  if (folded === 0) return { bytes: modelBytes, folded };
  graph.node = graph.node.filter((node) => !dropped.has(node));
  if (!(model.opsetImport ?? []).some((opset) => opset.domain === MICROSOFT_DOMAIN)) {
    model.opsetImport = [...(model.opsetImport ?? []), { domain: MICROSOFT_DOMAIN, version: 1 }];
  }
  return { bytes: onnx.ModelProto.encode(model).finish(), folded };
}
