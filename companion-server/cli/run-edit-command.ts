// `mgie edit`: one edit from a file to a file, with a progress bar on a terminal or one JSON object.
// Every input is checked before a model loads: a mistake costs a second, not a run.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { readBundleManifestAsync } from '../engine/bundle/load-bundle.ts';
import { checkInstruction } from '../engine/check-instruction.ts';
import { resolveEditParameters } from '../engine/edit-parameters.ts';
import { MgieError } from '../engine/errors.ts';
import { checkImageHeaderAsync } from '../engine/image/decode-input-image.ts';
import { editSize } from '../engine/image/edit-size.ts';
import { DEFAULT_LIMITS } from '../engine/image/image-limits.ts';
import { MgiePipeline } from '../engine/mgie-pipeline.ts';
import { CommandFailure } from './cli-errors.ts';
import { checkOutputPathAsync, outputFormatOf, writeEditOutputAsync } from './edit-output.ts';
import type { EditCommandOptions } from './parse-edit-options.ts';
import { readFloat32NpyAsync } from './read-npy-async.ts';
import { resolveBundleDirAsync } from './resolve-bundle-dir.ts';

/** Exit codes of a process ended by SIGINT / SIGTERM, as a shell reports them (128 + signal number). */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export async function runEditCommandAsync(options: EditCommandOptions): Promise<void> {
  const showProgress = !options.json && process.stderr.isTTY;
  const bar = showProgress
    ? new cliProgress.SingleBar({ format: ' {stage} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true, stream: process.stderr }, cliProgress.Presets.shades_classic)
    : null;
  // The bar hides the cursor; Node's default on Ctrl+C would exit and leave the terminal without one.
  const onSignal = (signal: keyof typeof SIGNAL_EXIT_CODES): void => {
    bar?.stop();
    process.stderr.write(`\nmgie: interrupted (${signal}).\n`);
    process.exit(SIGNAL_EXIT_CODES[signal]);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await editAsync(options, bar);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function editAsync(options: EditCommandOptions, bar: cliProgress.SingleBar | null): Promise<void> {
  // 1. inputs, none of which needs a model. A very long instruction must never reach onnxruntime: with
  //    it on the command line, its session creation crashed (segmentation fault).
  const instruction = checkInstruction(await readInstructionAsync(options), DEFAULT_LIMITS.maxInstructionLength);
  const image = await readFile(options.image).catch((cause: NodeJS.ErrnoException) => {
    throw new MgieError('MGIE_ERR_BAD_IMAGE', `Cannot read the image ${options.image} (${cause.code ?? cause.message}). Check the path.`, { cause });
  });
  const header = await checkImageHeaderAsync(image, DEFAULT_LIMITS);
  const outFormat = options.outFormat ?? outputFormatOf(options.out);
  await checkOutputPathAsync(options.out);
  const initialNoise = options.initialNoise === undefined ? undefined : (await readFloat32NpyAsync(options.initialNoise)).data;

  // 2. the parameters against the bundle's manifest (defaults, size multiple), still without a model
  const bundleDir = await resolveBundleDirAsync(options.bundle);
  const manifest = await readBundleManifestAsync(path.resolve(bundleDir));
  const parameters = resolveEditParameters(options.parameters, manifest, DEFAULT_LIMITS);
  const { sizeMultiple, vaeScaleFactor } = manifest.diffusion;
  editSize(header.width, header.height, { mode: parameters.sizeMode, size: parameters.size, sizeMultiple, vaeScaleFactor, maxEditSize: DEFAULT_LIMITS.maxEditSize });

  // 3. the models, and the edit
  const pipeline = await MgiePipeline.loadAsync(bundleDir, {
    executionProvider: options.executionProvider,
    intraOpNumThreads: options.threads,
  });
  try {
    bar?.start(1, 0, { stage: 'prepare'.padEnd(9) });
    const result = await pipeline.editAsync(
      { image, instruction, parameters },
      {
        initialNoise,
        onProgress: (event) => {
          if (event.type === 'stage') bar?.update({ stage: event.stage.padEnd(9) });
          else if (event.type === 'token') bar?.setTotal(event.maxNewTokens), bar?.update(event.generated);
          else if (event.type === 'step') bar?.setTotal(event.steps), bar?.update(event.step);
          else if (event.type === 'expressive-instruction' && !options.json) {
            bar?.stop();
            process.stderr.write(`MGIE imagines: ${printable(event.text) || '(no expressive instruction)'}\n`);
            bar?.start(1, 0, { stage: 'condition'.padEnd(9) });
          }
        },
      },
    );
    bar?.stop();
    await writeEditOutputAsync(options.out, result.png, outFormat);
    const summary = {
      expressiveInstruction: result.expressiveInstruction,
      seed: result.parameters.seed,
      steps: result.parameters.steps,
      guidanceScale: result.parameters.guidanceScale,
      imageGuidanceScale: result.parameters.imageGuidanceScale,
      scheduler: result.parameters.scheduler,
      sizeMode: result.parameters.sizeMode,
      width: result.width,
      height: result.height,
      editWidth: result.editWidth,
      editHeight: result.editHeight,
      editRegion: result.editRegion,
      generatedIds: result.generatedIds,
      imgHiddenStart: result.imgHiddenStart,
      timings: Object.fromEntries(Object.entries(result.timings).map(([stage, ms]) => [stage, Math.round(ms)])),
      bundle: result.modelName,
      provider: pipeline.bundle.executionProvider,
      out: options.out,
      format: outFormat,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const total = Object.values(result.timings).reduce((a, b) => a + b, 0);
      process.stdout.write(`Wrote ${options.out} (${result.width}x${result.height}, seed ${summary.seed}, ${summary.steps} steps, ${(total / 1000).toFixed(1)} s on ${summary.provider}).\n`);
    }
  } finally {
    bar?.stop();
    await pipeline.releaseAsync();
  }
}

/** --instruction, or the UTF-8 text of --instruction-file (`-`: stdin), so long text needs no argument list. */
async function readInstructionAsync(options: EditCommandOptions): Promise<string> {
  if (options.instruction !== undefined) return options.instruction;
  const file = options.instructionFile!;
  const name = file === '-' ? 'stdin' : file;
  let bytes: Buffer;
  try {
    if (file === '-' && process.stdin.isTTY) process.stderr.write('Type the instruction, then press Ctrl+D.\n');
    bytes = file === '-' ? Buffer.concat(await process.stdin.toArray()) : await readFile(file);
  } catch (cause) {
    throw new CommandFailure(`Cannot read the instruction file ${name} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}). Check the path.`, { cause });
  }
  try {
    // fatal: a file in another encoding is refused rather than edited with mangled text; a BOM is dropped.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new CommandFailure(`The instruction file ${name} is not UTF-8 text. Save it as UTF-8.`, { cause });
  }
}

/** Model text is untrusted on a terminal: control characters (escape sequences) are dropped. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}
