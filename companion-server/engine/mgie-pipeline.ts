// The whole MGIE edit (mgie-reference.md): image -> MLLM -> expressive instruction and visual
// tokens -> edit head -> InstructPix2Pix diffusion -> edited PNG. Sessions live as long as the pipeline.
import type { BundleManifest } from './bundle/bundle-manifest.ts';
import { type LoadBundleOptions, type LoadedBundle, loadBundleAsync } from './bundle/load-bundle.ts';
import { checkInstruction } from './check-instruction.ts';
import { combineGuidance, GuidanceBatch, isGuidanceActive } from './diffusion/guidance.ts';
import { type EditParameterInput, type EditParameters, resolveEditParameters } from './edit-parameters.ts';
import { MgieError, throwIfAborted } from './errors.ts';
import { cleanExpressiveInstruction } from './generation/clean-expressive-instruction.ts';
import { generateGreedyAsync } from './generation/generate-greedy.ts';
import { selectImgHidden } from './generation/select-img-hidden.ts';
import { decodeInputImageAsync } from './image/decode-input-image.ts';
import { type EditRegion, type EditSize, editSize } from './image/edit-size.ts';
import { encodeResultPngAsync, prepareEditPixels } from './image/edit-image-tensors.ts';
import { DEFAULT_LIMITS, type ImageLimits } from './image/image-limits.ts';
import { prepareClipPixelsAsync } from './image/prepare-clip-pixels.ts';
import { float32Data, float32Tensor, int64Tensor, type ModelSession, type Tensor } from './onnx-runtime.ts';
import { buildPromptIds } from './prompt/build-prompt.ts';
import { createScheduler } from './schedulers/scheduler.ts';
import { TorchGenerator } from './torch-random/torch-generator.ts';

export const EDIT_STAGES = ['prepare', 'vision', 'generate', 'condition', 'encode', 'diffuse', 'decode'] as const;
export type EditStage = (typeof EDIT_STAGES)[number];

export type EditProgress =
  | { type: 'stage'; stage: EditStage }
  | { type: 'token'; generated: number; maxNewTokens: number }
  | { type: 'expressive-instruction'; text: string }
  /**
   * `latents` is the live buffer of the step's result: copy it to keep it (e.g. for a preview).
   * `latentRegion`: the latent cells that cover the image, without the padding (for a preview).
   */
  | { type: 'step'; step: number; steps: number; timestep: number; latents: Float32Array; latentShape: readonly number[]; latentRegion: EditRegion };

export interface EditRequest {
  /** PNG, JPEG, WebP, ... bytes of the image to edit. */
  image: Uint8Array;
  instruction: string;
  parameters?: EditParameterInput;
}

/**
 * Intermediate tensors of an edit, named after mgie-reference.md: the edit head's output for the IMG
 * hidden states and for zeros [1, numQueries, dim], the image latent the UNet is conditioned on and the
 * latents after the last step [1, Cl, h, w] (before the division by the scaling factor).
 */
export type EditTensorName = 'conditioning' | 'null-conditioning' | 'image-latent' | 'final-latents';

export interface EditOptions {
  signal?: AbortSignal;
  onProgress?: (event: EditProgress) => void;
  /**
   * Stop generating after this many tokens (at most the manifest's maxNewTokens): the server's warm-up,
   * which must touch every model but not spend minutes generating with a 7B on a CPU.
   */
  maxNewTokens?: number;
  /**
   * Unit-variance noise for the initial latents [1, Cl, h, w], instead of drawing it from the seed: to
   * compare with a reference implementation given the same noise. As with diffusers' `latents=`, nothing
   * is drawn for them, so Euler Ancestral's step noise starts at the seed's first draw.
   */
  initialNoise?: Float32Array;
  /**
   * Called with each intermediate tensor as the edit uses it, so a comparison with a reference
   * implementation can say which stage differs (test/models/golden-fixture.test.ts). `data` is a copy.
   */
  onTensor?: (name: EditTensorName, data: Float32Array, shape: readonly number[]) => void;
}

export interface EditResult {
  png: Buffer;
  width: number;
  height: number;
  expressiveInstruction: string;
  parameters: EditParameters;
  /** The canvas the VAE and UNet ran on (multiples of the bundle's diffusion.sizeMultiple). */
  editWidth: number;
  editHeight: number;
  /** Where the image lay on that canvas, unstretched; the rest was padding, cut off the result. */
  editRegion: EditRegion;
  generatedTokens: number;
  /** The generated token ids (expressive instruction, IMG tokens, EOS), for diagnostics and comparisons. */
  generatedIds: number[];
  stoppedBy: 'eos' | 'max-new-tokens';
  /** Where the IMG hidden states began in the sequence (for diagnostics and tests). */
  imgHiddenStart: number;
  timings: Record<EditStage, number>;
  modelName: string;
}

export interface PipelineOptions extends LoadBundleOptions {
  limits?: Partial<ImageLimits>;
}

export class MgiePipeline {
  private constructor(
    readonly bundle: LoadedBundle,
    readonly limits: ImageLimits,
    /** edit_head(zeros): the unconditional embeddings, computed once per loaded bundle. */
    private readonly nullConditioning: Float32Array,
  ) {}

  static async loadAsync(bundleDirectory: string, options: PipelineOptions = {}): Promise<MgiePipeline> {
    const bundle = await loadBundleAsync(bundleDirectory, options);
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const { numImgTokens } = bundle.manifest.editHead;
    const zeros = float32Tensor(new Float32Array(numImgTokens * bundle.manifest.llm.hiddenSize), [1, numImgTokens, bundle.manifest.llm.hiddenSize]);
    const nullConditioning = float32Data((await bundle.sessions.editHead.runAsync({ img_hidden: zeros })).prompt_embeds).slice();
    return new MgiePipeline(bundle, limits, nullConditioning);
  }

  get manifest(): BundleManifest {
    return this.bundle.manifest;
  }

  resolveParameters(input: EditParameterInput = {}): EditParameters {
    return resolveEditParameters(input, this.manifest, this.limits);
  }

  async editAsync(request: EditRequest, options: EditOptions = {}): Promise<EditResult> {
    const { signal, onProgress, initialNoise, onTensor } = options;
    const { manifest, sessions, tokenizer, tokenIds } = this.bundle;
    const maxNewTokens = Math.min(manifest.generation.maxNewTokens, options.maxNewTokens ?? Infinity);
    const { llm, vision, editHead, diffusion } = manifest;
    const timings = Object.fromEntries(EDIT_STAGES.map((s) => [s, 0])) as Record<EditStage, number>;
    let stageStarted = performance.now();
    let currentStage: EditStage | undefined;
    const enterStage = (stage: EditStage): void => {
      const now = performance.now();
      if (currentStage) timings[currentStage] += now - stageStarted;
      currentStage = stage;
      stageStarted = now;
      throwIfAborted(signal);
      onProgress?.({ type: 'stage', stage });
    };
    const run = async (session: ModelSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> => {
      throwIfAborted(signal);
      return session.runAsync(feeds);
    };

    // 1. check inputs and decode the image
    enterStage('prepare');
    const parameters = this.resolveParameters(request.parameters);
    const instruction = this.checkInstruction(request.instruction);
    const promptIds = buildPromptIds(instruction, manifest, tokenizer, tokenIds);
    const image = await decodeInputImageAsync(request.image, this.limits);
    const canvas = this.editSize(image.width, image.height, parameters);
    const { width: editWidth, height: editHeight } = canvas;
    const clipPixels = await prepareClipPixelsAsync(image, vision.imageSize, vision.mean, vision.std);
    const editPixels = prepareEditPixels(image, canvas);

    // 2. image features spliced over the <im_patch> embeddings
    enterStage('vision');
    const S = vision.imageSize;
    const features = float32Data((await run(sessions.vision, { pixel_values: float32Tensor(clipPixels, [1, 3, S, S]) })).image_features);
    const T = promptIds.ids.length;
    const embedded = await run(sessions.embed, { input_ids: int64Tensor(promptIds.ids, [1, T]) });
    const promptEmbeds = float32Data(embedded.inputs_embeds).slice();
    if (features.length !== vision.numPatches * llm.hiddenSize) {
      throw new MgieError('MGIE_ERR_RUNTIME', `${manifest.files.vision} returned ${features.length / llm.hiddenSize} image features, the manifest says ${vision.numPatches} (vision.numPatches).`);
    }
    promptEmbeds.set(features, promptIds.imagePatchStart * llm.hiddenSize);

    // 3. greedy generation of the expressive instruction and the IMG tokens
    enterStage('generate');
    let announced = false;
    const announce = (ids: readonly number[]): void => {
      announced = true;
      const text = cleanExpressiveInstruction(tokenizer.decode(ids, { skipSpecialTokens: false }), manifest.tokens.img[0], manifest.tokens.eos);
      onProgress?.({ type: 'expressive-instruction', text });
    };
    const generation = await generateGreedyAsync({
      embed: sessions.embed,
      decoder: sessions.decoder,
      promptIds: promptIds.ids,
      promptEmbeds,
      config: { ...llm, maxNewTokens, noRepeatNgramSize: manifest.generation.noRepeatNgramSize, eosTokenId: tokenIds.eos },
      signal,
      onToken: (ids) => {
        onProgress?.({ type: 'token', generated: ids.length, maxNewTokens });
        // The text is final once the answer reaches [IMG0] or EOS: tell the designer right away.
        const last = ids[ids.length - 1];
        if (!announced && (last === tokenIds.img[0] || last === tokenIds.eos)) announce(ids);
      },
    });
    if (!announced) announce(generation.generatedIds);
    const expressiveInstruction = cleanExpressiveInstruction(tokenizer.decode(generation.generatedIds, { skipSpecialTokens: false }), manifest.tokens.img[0], manifest.tokens.eos);
    if (generation.sequence.length - 1 !== generation.hiddenStates.length || T + generation.generatedIds.length !== generation.sequence.length) {
      throw new MgieError('MGIE_ERR_RUNTIME', `generation kept ${generation.hiddenStates.length} hidden states for ${generation.sequence.length} tokens`);
    }

    // 4. visual tokens -> conditioning
    enterStage('condition');
    const K = editHead.numImgTokens;
    const img = selectImgHidden(generation.sequence, generation.hiddenStates, tokenIds.img[0], K);
    const cond = float32Data((await run(sessions.editHead, { img_hidden: float32Tensor(img.rows, [1, K, llm.hiddenSize]) })).prompt_embeds);
    const conditioningShape = [1, editHead.numQueries, editHead.dim] as const;
    onTensor?.('conditioning', cond.slice(), conditioningShape);
    onTensor?.('null-conditioning', this.nullConditioning.slice(), conditioningShape);

    // 5. image latent: the distribution's mode, unscaled
    enterStage('encode');
    const imageLatent = float32Data((await run(sessions.vaeEncoder, { image: float32Tensor(editPixels, [1, 3, editHeight, editWidth]) })).latent);
    const f = diffusion.vaeScaleFactor;
    const latentShape = [1, diffusion.latentChannels, editHeight / f, editWidth / f] as const;
    onTensor?.('image-latent', imageLatent.slice(), latentShape);
    const { region } = canvas;
    const latentLeft = Math.floor(region.left / f);
    const latentTop = Math.floor(region.top / f);
    const latentRegion = {
      left: latentLeft,
      top: latentTop,
      width: Math.ceil((region.left + region.width) / f) - latentLeft,
      height: Math.ceil((region.top + region.height) / f) - latentTop,
    };

    // 6. denoising loop with three-way guidance
    enterStage('diffuse');
    const scheduler = createScheduler(parameters.scheduler, diffusion.scheduler, parameters.steps);
    // torch.Generator().manual_seed(seed): the initial latents are its first draw (diffusers'
    // prepare_latents: randn of [1, Cl, h, w] times init_noise_sigma), each ancestral step its next.
    const generator = new TorchGenerator(parameters.seed);
    if (initialNoise !== undefined && initialNoise.length !== imageLatent.length) {
      throw new MgieError(
        'MGIE_ERR_BAD_PARAMETER',
        `The initial noise has ${initialNoise.length} values; this edit's latents have ${imageLatent.length} (${latentShape.join('x')}).`,
      );
    }
    let latents = initialNoise !== undefined ? Float32Array.from(initialNoise) : generator.randn(imageLatent.length);
    for (let i = 0; i < latents.length; i++) latents[i] *= scheduler.initNoiseSigma;
    const guidance = isGuidanceActive(parameters);
    const batch = new GuidanceBatch(imageLatent, cond, this.nullConditioning, guidance);
    const B = batch.batchSize;
    const encoderHiddenStates = float32Tensor(batch.encoderHiddenStates, [B, editHead.numQueries, editHead.dim]);
    const sample = float32Tensor(batch.sample, [B, 2 * diffusion.latentChannels, latentShape[2], latentShape[3]]);
    const timestepValues = new Float32Array(B);
    const timestep = float32Tensor(timestepValues, [B]);
    for (let i = 0; i < parameters.steps; i++) {
      const t = scheduler.timesteps[i];
      batch.setScaledLatents(scheduler.scaleModelInput(latents, i));
      timestepValues.fill(t);
      const noisePred = float32Data((await run(sessions.unet, { sample, timestep, encoder_hidden_states: encoderHiddenStates })).noise_pred);
      latents = scheduler.step(combineGuidance(noisePred, B, parameters), i, latents, generator).prevSample;
      onProgress?.({ type: 'step', step: i + 1, steps: parameters.steps, timestep: t, latents, latentShape, latentRegion });
    }

    // 7. decode and return at the input's own size
    enterStage('decode');
    onTensor?.('final-latents', latents.slice(), latentShape);
    const scaled = new Float32Array(latents.length);
    for (let i = 0; i < latents.length; i++) scaled[i] = latents[i] / diffusion.scalingFactor;
    const decoded = float32Data((await run(sessions.vaeDecoder, { latent: float32Tensor(scaled, latentShape) })).image);
    const png = await encodeResultPngAsync(decoded, canvas, image);
    timings.decode += performance.now() - stageStarted;

    return {
      png,
      width: image.width,
      height: image.height,
      expressiveInstruction,
      parameters,
      editWidth,
      editHeight,
      editRegion: canvas.region,
      generatedTokens: generation.generatedIds.length,
      generatedIds: [...generation.generatedIds],
      stoppedBy: generation.stoppedBy,
      imgHiddenStart: img.start,
      timings,
      modelName: manifest.name,
    };
  }

  async releaseAsync(): Promise<void> {
    await this.bundle.releaseAsync();
  }

  /**
   * The edit canvas for an image of this size (image/edit-size.ts); throws when size mode 'native' would
   * go over the edit size limit, so that the server can refuse such an edit before it waits in line.
   */
  editSize(width: number, height: number, parameters: EditParameters): EditSize {
    const { sizeMultiple, vaeScaleFactor } = this.manifest.diffusion;
    return editSize(width, height, { mode: parameters.sizeMode, size: parameters.size, sizeMultiple, vaeScaleFactor, maxEditSize: this.limits.maxEditSize });
  }

  /** Checks an instruction (non-empty, within the length limit) and returns it trimmed. */
  checkInstruction(instruction: unknown): string {
    return checkInstruction(instruction, this.limits.maxInstructionLength);
  }
}
