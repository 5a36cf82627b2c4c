// The whole MGIE edit (mgie-reference.md): image -> MLLM -> expressive instruction and visual
// tokens -> edit head -> InstructPix2Pix diffusion -> edited PNG. Sessions live as long as the pipeline.
import type { BundleManifest } from './bundle/bundle-manifest.ts';
import { type LoadBundleOptions, type LoadedBundle, loadBundleAsync } from './bundle/load-bundle.ts';
import { combineGuidance, GuidanceBatch, isGuidanceActive } from './diffusion/guidance.ts';
import { LatentBlend } from './diffusion/latent-blend.ts';
import { MAX_CHAIN_STEPS } from './edit-counts.ts';
import { type EditParameterInput, type EditParameters, MAX_SEED } from './edit-parameters.ts';
import { EditChecks } from './edit-checks.ts';
import { MgieError, throwIfAborted, withErrorPrefix } from './errors.ts';
import { cleanExpressiveInstruction } from './generation/clean-expressive-instruction.ts';
import { generateGreedyAsync, type GenerationResult } from './generation/generate-greedy.ts';
import { selectImgHidden } from './generation/select-img-hidden.ts';
import { teacherForceAsync } from './generation/teacher-force.ts';
import { decodeInputImageAsync } from './image/decode-input-image.ts';
import { compositeMaskedResultAsync, decodeEditMaskAsync, featherMask, latentMaskFor } from './image/edit-mask.ts';
import type { EditRegion, EditSize } from './image/edit-size.ts';
import { encodeResultPngAsync, prepareEditPixels, resultRgbAsync } from './image/edit-image-tensors.ts';
import { DEFAULT_LIMITS, type ImageLimits } from './image/image-limits.ts';
import { prepareClipPixelsAsync } from './image/prepare-clip-pixels.ts';
import { float32Data, float32Tensor, int64Tensor, type ModelSession, type Tensor } from './onnx-runtime.ts';
import { buildExpressiveAnswerIds } from './prompt/build-expressive-answer.ts';
import { buildPromptIds } from './prompt/build-prompt.ts';
import { createScheduler } from './schedulers/scheduler.ts';
import { TorchGenerator } from './torch-random/torch-generator.ts';

export const EDIT_STAGES = ['prepare', 'vision', 'generate', 'condition', 'encode', 'diffuse', 'decode'] as const;
export type EditStage = (typeof EDIT_STAGES)[number];

export { MAX_CHAIN_STEPS, MAX_VARIATIONS } from './edit-counts.ts';

export type EditProgress =
  /** A chain's step begins (editChainAsync): the events that follow, up to the next one, are its edit's. */
  | { type: 'chain-step'; step: number; steps: number; instruction: string }
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
  /**
   * The designer's own expressive instruction, instead of the one MGIE would generate: the decoder runs once
   * over the prompt, this text and the [IMG] tokens (teacher forcing), and the visual tokens come from there.
   */
  expressiveInstruction?: string;
  /** PNG, JPEG, WebP, ... bytes of a mask at the image's size (or proportions): white edits, black keeps. */
  mask?: Uint8Array;
  /**
   * 1..MAX_VARIATIONS edits of one instruction in one run: the LLM and edit head once, the UNet on all of them
   * at every step. Variation k uses seed + k - 1, so variation 1 is the edit without variations.
   */
  variations?: number;
}

/** Several instructions in a row, each step editing the previous step's result (editChainAsync). */
export interface EditChainRequest {
  image: Uint8Array;
  instructions: readonly string[];
  /** Shared by every step; a seed drawn once when none is given, so every step uses the same. */
  parameters?: EditParameterInput;
  mask?: Uint8Array;
}

export interface EditChainResult {
  /** Each step's result, in order; the last one's png is the chain's result. */
  steps: EditResult[];
  png: Buffer;
}

export interface EditVariation {
  seed: number;
  png: Buffer;
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
  /** 'model': MGIE generated the expressive instruction; 'given': the request's, by teacher forcing. */
  expressiveInstructionSource: 'model' | 'given';
  /** Whether a mask limited the edit (pixels the mask keeps are the input's). */
  masked: boolean;
  /** Every variation, the first being `png`, when the request asked for variations. */
  variations?: EditVariation[];
  parameters: EditParameters;
  /** The canvas the VAE and UNet ran on (multiples of the bundle's diffusion.sizeMultiple). */
  editWidth: number;
  editHeight: number;
  /** Where the image lay on that canvas, unstretched; the rest was padding, cut off the result. */
  editRegion: EditRegion;
  /** Tokens generated: 0 when the expressive instruction was given. */
  generatedTokens: number;
  /**
   * The answer's token ids (expressive instruction, IMG tokens, EOS), for diagnostics and comparisons: as
   * generated, or as forced when the expressive instruction was given.
   */
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
  /** The checks an edit passes before it runs; they need no model (edit-checks.ts). */
  readonly checks: EditChecks;

  private constructor(
    readonly bundle: LoadedBundle,
    readonly limits: ImageLimits,
    /** edit_head(zeros): the unconditional embeddings, computed once per loaded bundle. */
    private readonly nullConditioning: Float32Array,
  ) {
    this.checks = new EditChecks(bundle.manifest, bundle.tokenizer, limits);
  }

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
    return this.checks.resolveParameters(input);
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
    const given = request.expressiveInstruction === undefined ? undefined : this.checkExpressiveInstruction(request.expressiveInstruction);
    const answerIds = given === undefined ? undefined : buildExpressiveAnswerIds(given, manifest, tokenizer, tokenIds);
    const variationCount = this.checkVariations(request.variations);
    if (initialNoise !== undefined && variationCount > 1) {
      throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'Initial noise is for one edit; ask for one variation with it.');
    }
    const image = await decodeInputImageAsync(request.image, this.limits);
    const canvas = this.editSize(image.width, image.height, parameters);
    const { width: editWidth, height: editHeight } = canvas;
    const mask = request.mask === undefined ? undefined : await decodeEditMaskAsync(request.mask, image, this.limits);
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

    // 3. greedy generation of the expressive instruction and the IMG tokens, or teacher forcing of the given one
    enterStage('generate');
    let generation: Pick<GenerationResult, 'sequence' | 'hiddenStates' | 'generatedIds' | 'stoppedBy'>;
    let expressiveInstruction: string;
    if (given !== undefined && answerIds !== undefined) {
      const forced = await teacherForceAsync({ embed: sessions.embed, decoder: sessions.decoder, promptIds: promptIds.ids, promptEmbeds, answerIds, config: llm, signal });
      generation = { ...forced, generatedIds: answerIds, stoppedBy: 'eos' };
      expressiveInstruction = given;
      onProgress?.({ type: 'expressive-instruction', text: given });
    } else {
      ({ generation, expressiveInstruction } = await this.generateAsync(promptIds.ids, promptEmbeds, maxNewTokens, signal, onProgress));
    }
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

    // 6. denoising loop with three-way guidance, all variations in one UNet run per step
    enterStage('diffuse');
    const scheduler = createScheduler(parameters.scheduler, diffusion.scheduler, parameters.steps);
    // torch.Generator().manual_seed(seed): the initial latents are its first draw (diffusers'
    // prepare_latents: randn of [1, Cl, h, w] times init_noise_sigma), each ancestral step its next.
    // Variation k has its own generator at seed + k - 1: each is the edit that seed gives alone.
    const seeds = Array.from({ length: variationCount }, (_, v) => (parameters.seed + v) % (MAX_SEED + 1));
    const generators = seeds.map((seed) => new TorchGenerator(seed));
    if (initialNoise !== undefined && initialNoise.length !== imageLatent.length) {
      throw new MgieError(
        'MGIE_ERR_BAD_PARAMETER',
        `The initial noise has ${initialNoise.length} values; this edit's latents have ${imageLatent.length} (${latentShape.join('x')}).`,
      );
    }
    const latents = generators.map((generator) => {
      const noise = initialNoise !== undefined ? Float32Array.from(initialNoise) : generator.randn(imageLatent.length);
      for (let i = 0; i < noise.length; i++) noise[i] *= scheduler.initNoiseSigma;
      return noise;
    });
    const latentMask = mask === undefined ? undefined : latentMaskFor(mask, canvas, f);
    const blends = latentMask === undefined ? undefined : seeds.map((seed) => new LatentBlend(imageLatent, diffusion.scalingFactor, latentMask, seed));
    const guidance = isGuidanceActive(parameters);
    const batch = new GuidanceBatch(imageLatent, cond, this.nullConditioning, guidance);
    const B = batch.batchSize;
    const N = variationCount;
    const latentSize = imageLatent.length;
    // One variation's batch as is; more repeat it, each item taking its variation's scaled latents below.
    const sampleValues = N === 1 ? batch.sample : repeat(batch.sample, N);
    const encoderHiddenStates = float32Tensor(N === 1 ? batch.encoderHiddenStates : repeat(batch.encoderHiddenStates, N), [N * B, editHead.numQueries, editHead.dim]);
    const sample = float32Tensor(sampleValues, [N * B, 2 * diffusion.latentChannels, latentShape[2], latentShape[3]]);
    const timestepValues = new Float32Array(N * B);
    const timestep = float32Tensor(timestepValues, [N * B]);
    for (let i = 0; i < parameters.steps; i++) {
      const t = scheduler.timesteps[i];
      if (N === 1) batch.setScaledLatents(scheduler.scaleModelInput(latents[0], i));
      else {
        for (let v = 0; v < N; v++) {
          const scaled = scheduler.scaleModelInput(latents[v], i);
          for (let b = 0; b < B; b++) sampleValues.set(scaled, (v * B + b) * 2 * latentSize);
        }
      }
      timestepValues.fill(t);
      const noisePred = float32Data((await run(sessions.unet, { sample, timestep, encoder_hidden_states: encoderHiddenStates })).noise_pred);
      for (let v = 0; v < N; v++) {
        const own = N === 1 ? noisePred : noisePred.subarray(v * B * latentSize, (v + 1) * B * latentSize);
        latents[v] = scheduler.step(combineGuidance(own, B, parameters), i, latents[v], generators[v]).prevSample;
        blends?.[v].apply(latents[v], i, scheduler);
      }
      onProgress?.({ type: 'step', step: i + 1, steps: parameters.steps, timestep: t, latents: latents[0], latentShape, latentRegion });
    }

    // 7. decode and return at the input's own size
    enterStage('decode');
    onTensor?.('final-latents', latents[0].slice(), latentShape);
    const compositeAlpha = mask === undefined ? undefined : featherMask(mask);
    const pngs: Buffer[] = [];
    for (const variation of latents) {
      const scaled = new Float32Array(variation.length);
      for (let i = 0; i < variation.length; i++) scaled[i] = variation[i] / diffusion.scalingFactor;
      const decoded = float32Data((await run(sessions.vaeDecoder, { latent: float32Tensor(scaled, latentShape) })).image);
      pngs.push(
        compositeAlpha === undefined
          ? await encodeResultPngAsync(decoded, canvas, image)
          : await compositeMaskedResultAsync(await resultRgbAsync(decoded, canvas, image), request.image, compositeAlpha, this.limits),
      );
    }
    timings.decode += performance.now() - stageStarted;

    return {
      png: pngs[0],
      width: image.width,
      height: image.height,
      expressiveInstruction,
      expressiveInstructionSource: given === undefined ? 'model' : 'given',
      masked: mask !== undefined,
      ...(request.variations === undefined ? {} : { variations: pngs.map((png, v) => ({ seed: seeds[v], png })) }),
      parameters,
      editWidth,
      editHeight,
      editRegion: canvas.region,
      generatedTokens: given === undefined ? generation.generatedIds.length : 0,
      generatedIds: [...generation.generatedIds],
      stoppedBy: generation.stoppedBy,
      imgHiddenStart: img.start,
      timings,
      modelName: manifest.name,
    };
  }

  /**
   * Runs each instruction on the previous step's result. The result passes on as its PNG bytes, in memory:
   * PNG is lossless, so this is the 8-bit picture the designer sees for that step, and each step is exactly
   * the edit `mgie edit` would make of that step's saved picture (a float hand-over would make the chain's
   * pictures impossible to reproduce from the ones it reports). Decoding it again costs milliseconds.
   */
  async editChainAsync(request: EditChainRequest, options: Omit<EditOptions, 'initialNoise'> = {}): Promise<EditChainResult> {
    const { instructions } = request;
    if (!Array.isArray(instructions) || instructions.length === 0 || instructions.length > MAX_CHAIN_STEPS) {
      throw new MgieError('MGIE_ERR_BAD_PARAMETER', `A chain needs 1 to ${MAX_CHAIN_STEPS} instructions, got ${Array.isArray(instructions) ? instructions.length : 'none'}. Split a longer chain in two.`);
    }
    // Every instruction is checked before the first step runs: a mistake in the third costs no minutes.
    const checked = instructions.map((instruction, k) =>
      withErrorPrefix(`Instruction ${k + 1} of the chain`, () => {
        const text = this.checkInstruction(instruction);
        buildPromptIds(text, this.manifest, this.bundle.tokenizer, this.bundle.tokenIds);
        return text;
      }),
    );
    const parameters = this.resolveParameters(request.parameters);
    const steps: EditResult[] = [];
    let image = request.image;
    for (const [k, instruction] of checked.entries()) {
      options.onProgress?.({ type: 'chain-step', step: k + 1, steps: checked.length, instruction });
      const result = await this.editAsync({ image, instruction, parameters, mask: request.mask }, options);
      steps.push(result);
      image = result.png;
    }
    return { steps, png: steps[steps.length - 1].png };
  }

  /** Greedy generation of the expressive instruction and the IMG tokens, announcing the text as soon as it is final. */
  private async generateAsync(promptIds: readonly number[], promptEmbeds: Float32Array, maxNewTokens: number, signal: AbortSignal | undefined, onProgress: EditOptions['onProgress']) {
    const { manifest, sessions, tokenizer, tokenIds } = this.bundle;
    const { llm } = manifest;
    let announced = false;
    const announce = (ids: readonly number[]): void => {
      announced = true;
      const text = cleanExpressiveInstruction(tokenizer.decode(ids, { skipSpecialTokens: false }), manifest.tokens.img[0], manifest.tokens.eos);
      onProgress?.({ type: 'expressive-instruction', text });
    };
    const generation = await generateGreedyAsync({
      embed: sessions.embed,
      decoder: sessions.decoder,
      promptIds,
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
    return { generation, expressiveInstruction };
  }

  async releaseAsync(): Promise<void> {
    await this.bundle.releaseAsync();
  }

  editSize(width: number, height: number, parameters: EditParameters): EditSize {
    return this.checks.editSize(width, height, parameters);
  }

  checkExpressiveInstruction(text: unknown): string {
    return this.checks.checkExpressiveInstruction(text);
  }

  checkVariations(variations: unknown): number {
    return this.checks.checkVariations(variations);
  }

  checkInstruction(instruction: unknown): string {
    return this.checks.checkInstruction(instruction);
  }
}

/** `values` repeated `times` times, end to end. */
function repeat(values: Float32Array, times: number): Float32Array {
  const out = new Float32Array(values.length * times);
  for (let k = 0; k < times; k++) out.set(values, k * values.length);
  return out;
}
