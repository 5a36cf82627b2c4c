// What quantizing the LLM costs, measured through the runtime: bundles exported from the same weights
// (python -m models.export --random-init with the same seed and --llm-layers, --llm-weights fp32 / int8 / int4)
// run the MLLM stage of an edit (vision, prompt, greedy generation) on one picture and the demo instructions.
// The first bundle is the reference; for each other one and each instruction:
//  - free-running: whether its 96 greedy ids (no-repeat ban included, as an edit runs) equal the reference's,
//    where they first differ, and the L2 distance of its 8 visual-token states (the edit head's input) to the
//    reference's, relative to the reference's norm;
//  - teacher-forced: both decoders run once over the reference's own sequence (prompt + generated ids), so their
//    states are compared at the same positions whatever the generations did: top-1 agreement of the logits at the
//    generated positions, the largest logit difference, and the relative L2 distance of the 8 visual-token states.
//    The reference's top-2 logit margin at each position says how fragile a greedy step was.
// Only vision, embed and decoder are loaded. Usage:
//   npx tsx models/export/llm-fidelity.ts --image PNG [--instructions 20] [--out result.json] REF_BUNDLE BUNDLE...
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadBundleTokenizerAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { generateGreedyAsync } from '../../companion-server/engine/generation/generate-greedy.ts';
import { selectImgHidden } from '../../companion-server/engine/generation/select-img-hidden.ts';
import { decodeInputImageAsync } from '../../companion-server/engine/image/decode-input-image.ts';
import { DEFAULT_LIMITS } from '../../companion-server/engine/image/image-limits.ts';
import { prepareClipPixelsAsync } from '../../companion-server/engine/image/prepare-clip-pixels.ts';
import { float32Data, float32Tensor, int64Tensor, ModelSession } from '../../companion-server/engine/onnx-runtime.ts';
import { buildPromptIds } from '../../companion-server/engine/prompt/build-prompt.ts';

// token_parity.py's DEMO_INSTRUCTIONS: the 20 instructions of MGIE's demo
const DEMO_INSTRUCTIONS = [
  'make the frame red', 'turn the day into night', 'give him a beard', 'make cottage a mansion', 'remove yellow object from dogs paws',
  'change the hair from red to blue', 'remove the text', 'increase the image contrast', 'remove the people in the background',
  'please make this photo professional looking', 'darken the image, sharpen it', 'photoshop the girl out', 'make more brightness',
  'take away the brown filter form the image', 'add more contrast to simulate more light', 'dark on rgb', 'make the face happy',
  'change view as ocean', 'replace basketball with soccer ball', 'let the floor be made of wood',
];

interface Run {
  instruction: string;
  promptLength: number;
  sequence: number[];
  generatedIds: number[];
  imgStart: number;
  img: Float32Array;
  seconds: number;
}

class MllmSessions {
  private constructor(
    readonly dir: string,
    readonly loaded: Awaited<ReturnType<typeof loadBundleTokenizerAsync>>,
    readonly vision: ModelSession,
    readonly embed: ModelSession,
    readonly decoder: ModelSession,
  ) {}

  static async openAsync(dir: string): Promise<MllmSessions> {
    const loaded = await loadBundleTokenizerAsync(dir);
    const { files } = loaded.manifest;
    const open = (file: string) => ModelSession.createAsync(file, path.join(dir, file));
    return new MllmSessions(dir, loaded, await open(files.vision), await open(files.embed), await open(files.decoder));
  }

  get config() {
    const { manifest, tokenIds } = this.loaded;
    return { ...manifest.llm, maxNewTokens: manifest.generation.maxNewTokens, noRepeatNgramSize: manifest.generation.noRepeatNgramSize, eosTokenId: tokenIds.eos };
  }

  /** Prompt ids and embeddings with the image features spliced in, as MgiePipeline builds them. */
  async promptAsync(instruction: string, pixels: Float32Array) {
    const { manifest, tokenizer, tokenIds } = this.loaded;
    const { llm, vision } = manifest;
    const promptIds = buildPromptIds(instruction, manifest, tokenizer, tokenIds);
    const S = vision.imageSize;
    const features = float32Data((await this.vision.runAsync({ pixel_values: float32Tensor(pixels, [1, 3, S, S]) })).image_features);
    const embeds = float32Data((await this.embed.runAsync({ input_ids: int64Tensor(promptIds.ids, [1, promptIds.ids.length]) })).inputs_embeds).slice();
    embeds.set(features, promptIds.imagePatchStart * llm.hiddenSize);
    return { ids: promptIds.ids, embeds, features, patchStart: promptIds.imagePatchStart };
  }

  async generateAsync(instruction: string, pixels: Float32Array): Promise<Run> {
    const started = performance.now();
    const prompt = await this.promptAsync(instruction, pixels);
    const generation = await generateGreedyAsync({ embed: this.embed, decoder: this.decoder, promptIds: prompt.ids, promptEmbeds: prompt.embeds, config: this.config });
    const { manifest, tokenIds } = this.loaded;
    const img = selectImgHidden(generation.sequence, generation.hiddenStates, tokenIds.img[0], manifest.editHead.numImgTokens);
    return { instruction, promptLength: prompt.ids.length, sequence: generation.sequence, generatedIds: generation.generatedIds, imgStart: img.start, img: img.rows.slice(), seconds: (performance.now() - started) / 1000 };
  }

  /** One decoder pass over a whole sequence (empty past): logits and final-norm states at every position. */
  async teacherForcedAsync(sequence: readonly number[], pixels: Float32Array, instruction: string) {
    const { llm } = this.loaded.manifest;
    const prompt = await this.promptAsync(instruction, pixels);
    const inputIds = sequence.slice(0, -1);
    const rest = inputIds.slice(prompt.ids.length);
    const restEmbeds = rest.length
      ? float32Data((await this.embed.runAsync({ input_ids: int64Tensor(rest, [1, rest.length]) })).inputs_embeds)
      : new Float32Array(0);
    const T = inputIds.length;
    const embeds = new Float32Array(T * llm.hiddenSize);
    embeds.set(prompt.embeds);
    embeds.set(restEmbeds, prompt.ids.length * llm.hiddenSize);
    const feeds: Record<string, ReturnType<typeof float32Tensor>> = {
      inputs_embeds: float32Tensor(embeds, [1, T, llm.hiddenSize]),
      attention_mask: int64Tensor(new Array(T).fill(1), [1, T]),
      position_ids: int64Tensor(Array.from({ length: T }, (_, i) => i), [1, T]),
    };
    // an empty past; runAsync converts float feeds to the type the model declares
    for (let i = 0; i < llm.numLayers; i++) {
      for (const part of ['key', 'value']) feeds[`past_key_values.${i}.${part}`] = float32Tensor(new Float32Array(0), [1, llm.numKvHeads, 0, llm.headDim]);
    }
    const out = await this.decoder.runAsync(feeds);
    return { logits: float32Data(out.logits), hidden: float32Data(out.last_hidden_state), length: T };
  }

  async releaseAsync(): Promise<void> {
    await Promise.all([this.vision.releaseAsync(), this.embed.releaseAsync(), this.decoder.releaseAsync()]);
  }
}

function relativeL2(a: Float32Array, reference: Float32Array): { l2: number; relative: number } {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < reference.length; i++) {
    diff += (a[i] - reference[i]) ** 2;
    norm += reference[i] ** 2;
  }
  return { l2: Math.sqrt(diff), relative: Math.sqrt(diff / norm) };
}

function argmaxRow(values: Float32Array, offset: number, size: number): { best: number; margin: number } {
  let best = 0;
  let first = -Infinity;
  let second = -Infinity;
  for (let i = 0; i < size; i++) {
    const v = values[offset + i];
    if (v > first) {
      second = first;
      first = v;
      best = i;
    } else if (v > second) second = v;
  }
  return { best, margin: first - second };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { image: { type: 'string' }, instructions: { type: 'string', default: '20' }, out: { type: 'string' } },
  });
  if (!values.image || positionals.length < 2) {
    console.error('Usage: npx tsx models/export/llm-fidelity.ts --image PNG [--instructions 20] [--out result.json] REF_BUNDLE BUNDLE...');
    process.exit(2);
  }
  const instructions = DEMO_INSTRUCTIONS.slice(0, Number(values.instructions));
  const image = await decodeInputImageAsync(await readFile(values.image), DEFAULT_LIMITS);
  // 1. the reference's generations; its teacher-forced pass comes from the same bundle (one session at a time in memory)
  const runs = new Map<string, Run[]>();
  const forced = new Map<string, Array<{ logits: Float32Array; hidden: Float32Array; length: number }>>();
  for (const dir of positionals) {
    const sessions = await MllmSessions.openAsync(dir);
    const { vision, llm } = sessions.loaded.manifest;
    const pixels = await prepareClipPixelsAsync(image, vision.imageSize, vision.mean, vision.std);
    const bundleRuns: Run[] = [];
    const bundleForced = [];
    for (const [index, instruction] of instructions.entries()) {
      const run = await sessions.generateAsync(instruction, pixels);
      bundleRuns.push(run);
      // every bundle is teacher-forced over the REFERENCE's sequence (for the reference itself: its own)
      const reference = dir === positionals[0] ? run : runs.get(positionals[0])![index];
      const pass = await sessions.teacherForcedAsync(reference.sequence, pixels, instruction);
      // keep only what is compared: the generated positions' logits and the visual-token rows
      const start = reference.promptLength - 1;
      bundleForced.push({
        logits: pass.logits.slice(start * llm.vocabSize),
        hidden: pass.hidden.slice(reference.imgStart * llm.hiddenSize, (reference.imgStart + 8) * llm.hiddenSize),
        length: pass.length,
      });
      console.error(`${path.basename(dir)}: ${index + 1}/${instructions.length} "${instruction}" ${run.generatedIds.length} tokens, ${run.seconds.toFixed(1)} s`);
    }
    runs.set(dir, bundleRuns);
    forced.set(dir, bundleForced);
    await sessions.releaseAsync();
  }
  // 2. every other bundle against the reference
  const referenceDir = positionals[0];
  const { manifest } = await loadBundleTokenizerAsync(referenceDir);
  const vocab = manifest.llm.vocabSize;
  const report = [];
  for (const dir of positionals.slice(1)) {
    const rows = instructions.map((instruction, i) => {
      const ref = runs.get(referenceDir)![i];
      const run = runs.get(dir)![i];
      const firstDifference = ref.generatedIds.findIndex((id, k) => run.generatedIds[k] !== id);
      const same = firstDifference < 0 && ref.generatedIds.length === run.generatedIds.length;
      const refForced = forced.get(referenceDir)![i];
      const ownForced = forced.get(dir)![i];
      const positions = ref.generatedIds.length;
      let agree = 0;
      let maxLogitDiff = 0;
      const flips: Array<{ position: number; margin: number }> = [];
      let smallestMargin = Infinity;
      for (let k = 0; k < positions; k++) {
        const a = argmaxRow(refForced.logits, k * vocab, vocab);
        const b = argmaxRow(ownForced.logits, k * vocab, vocab);
        smallestMargin = Math.min(smallestMargin, a.margin);
        if (a.best === b.best) agree++;
        else flips.push({ position: k, margin: a.margin });
        for (let v = 0; v < vocab; v++) maxLogitDiff = Math.max(maxLogitDiff, Math.abs(refForced.logits[k * vocab + v] - ownForced.logits[k * vocab + v]));
      }
      return {
        instruction,
        freeRunning: { sameIds: same, firstDifference: same ? null : firstDifference < 0 ? Math.min(ref.generatedIds.length, run.generatedIds.length) : firstDifference, imgStart: [ref.imgStart, run.imgStart], imgL2: relativeL2(run.img, ref.img) },
        teacherForced: { positions, top1Agreement: agree / positions, flips, smallestReferenceMargin: smallestMargin, maxLogitDifference: maxLogitDiff, imgL2: relativeL2(ownForced.hidden, refForced.hidden) },
        seconds: run.seconds,
      };
    });
    report.push({ bundle: dir, reference: referenceDir, rows });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`${path.basename(dir)} vs ${path.basename(referenceDir)}: identical ids ${rows.filter((r) => r.freeRunning.sameIds).length}/${rows.length}; `
      + `teacher-forced top-1 ${(100 * mean(rows.map((r) => r.teacherForced.top1Agreement))).toFixed(1)} %; `
      + `visual-token L2 (relative) teacher-forced mean ${mean(rows.map((r) => r.teacherForced.imgL2.relative)).toExponential(2)} max ${Math.max(...rows.map((r) => r.teacherForced.imgL2.relative)).toExponential(2)}, `
      + `free-running mean ${mean(rows.map((r) => r.freeRunning.imgL2.relative)).toExponential(2)}; max logit diff ${Math.max(...rows.map((r) => r.teacherForced.maxLogitDifference)).toFixed(3)}`);
  }
  const generations = Object.fromEntries([...runs].map(([dir, list]) => [dir, list.map((r) => ({ instruction: r.instruction, generatedIds: r.generatedIds, imgStart: r.imgStart, seconds: r.seconds }))]));
  if (values.out) await writeFile(values.out, `${JSON.stringify({ report, generations }, null, 1)}\n`);
}

await main();
