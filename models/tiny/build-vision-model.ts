// vision.onnx: LLaVA's image path, CLIP ViT (HF CLIPVisionModel) up to hidden_states[-2], CLS dropped,
// then LLaVA's mm_projector (mgie-reference.md, "1. Image for the MLLM"; bundle-format.md, vision.onnx).
import { GraphBuilder } from '../onnx-builder/graph-builder.ts';
import { layerNorm, linear, multiHeadAttention, quickGelu, type Layers } from '../onnx-builder/layers.ts';
import type { WeightSource } from '../onnx-builder/weight-source.ts';
import type { GeneratedBundleConfig } from './generated-bundle-config.ts';

export function buildVisionModel(config: GeneratedBundleConfig, weights: WeightSource): GraphBuilder {
  const { imageSize, patchSize, hiddenSize: dv, numLayers, numHeads, mlpSize } = config.vision;
  const d = config.llm.hiddenSize;
  if (imageSize % patchSize !== 0) throw new Error(`vision: imageSize ${imageSize} is not a multiple of patchSize ${patchSize}`);
  if (dv % numHeads !== 0) throw new Error(`vision: hiddenSize ${dv} is not divisible by ${numHeads} heads`);
  if (numLayers < 1) throw new Error('vision: numLayers must be at least 1');
  const grid = imageSize / patchSize;
  const numPatches = grid * grid;

  const g = new GraphBuilder('vision', { float16: config.float16Models.includes('vision') });
  const layers: Layers = { g, w: weights };
  const pixels = g.input('pixel_values', 'float32', [1, 3, imageSize, imageSize]);

  // CLIPVisionEmbeddings: patch conv without bias, class token first, learned absolute positions.
  const fanIn = 3 * patchSize * patchSize;
  const patchWeight = g.weight('vision_model.embeddings.patch_embedding.weight', weights.normal(dv * fanIn, 1 / Math.sqrt(fanIn)), [dv, 3, patchSize, patchSize]);
  const patches = g.op('Conv', [pixels, patchWeight], { kernel_shape: [patchSize, patchSize], strides: [patchSize, patchSize] }, 'patch_embeds');
  const flat = g.op('Transpose', [g.op('Reshape', [patches, g.int64s('patch_flat_shape', [1, dv, numPatches])])], { perm: [0, 2, 1] }, 'patch_tokens');
  const classEmbedding = g.weight('vision_model.embeddings.class_embedding', weights.normal(dv, 1), [1, 1, dv]);
  const tokens = g.op('Concat', [classEmbedding, flat], { axis: 1 }, 'tokens');
  const positions = g.weight('vision_model.embeddings.position_embedding.weight', weights.normal((1 + numPatches) * dv, 0.5), [1 + numPatches, dv]);
  let h = g.op('Add', [tokens, positions], {}, 'embeddings');
  h = layerNorm(layers, h, dv, 'vision_model.pre_layrnorm');

  // hidden_states[-2] is the output of encoder layer numLayers-2 (index 0 = embeddings), so the last
  // layer is not built at all, as LLaVA's exporter truncates the tower (mm_vision_select_layer -2).
  for (let i = 0; i < numLayers - 1; i++) {
    const prefix = `vision_model.encoder.layers.${i}`;
    const attended = multiHeadAttention(layers, layerNorm(layers, h, dv, `${prefix}.layer_norm1`), { dim: dv, numHeads, name: `${prefix}.self_attn` });
    h = g.op('Add', [h, attended], {}, `${prefix}.attn_residual`);
    const hidden = quickGelu(g, linear(layers, layerNorm(layers, h, dv, `${prefix}.layer_norm2`), dv, mlpSize, `${prefix}.mlp.fc1`));
    h = g.op('Add', [h, linear(layers, hidden, mlpSize, dv, `${prefix}.mlp.fc2`)], {}, `${prefix}.mlp_residual`);
  }

  // Drop CLS (LLaVA: select_feature 'patch'), then mm_projector Linear(Dv -> D) with bias.
  const patchStates = g.op('Slice', [h, g.int64s('cls_start', [1]), g.int64s('cls_end', [1 + numPatches]), g.int64s('cls_axis', [1])], {}, 'patch_states');
  const features = linear(layers, patchStates, dv, d, 'model.mm_projector');
  g.output(features, 'image_features', 'float32', [1, numPatches, d]);
  return g;
}
