// `mgie edit`: one edit from a file to a file, with a progress bar on a terminal or one JSON object.
import { readFile, writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { MgieError } from '../engine/errors.ts';
import { MgiePipeline } from '../engine/mgie-pipeline.ts';
import { readFloat32NpyAsync } from './read-npy-async.ts';
import { resolveBundleDirAsync } from './resolve-bundle-dir.ts';
import type { EditCommandOptions } from './parse-edit-options.ts';

export async function runEditCommandAsync(options: EditCommandOptions): Promise<void> {
  const image = await readFile(options.image).catch((cause: NodeJS.ErrnoException) => {
    throw new MgieError('MGIE_ERR_BAD_IMAGE', `Cannot read the image ${options.image} (${cause.code ?? cause.message}). Check the path.`, { cause });
  });
  const initialNoise = options.initialNoise === undefined ? undefined : (await readFloat32NpyAsync(options.initialNoise)).data;
  const bundleDir = await resolveBundleDirAsync(options.bundle);
  const pipeline = await MgiePipeline.loadAsync(bundleDir, {
    executionProvider: options.executionProvider,
    intraOpNumThreads: options.threads,
  });
  const showProgress = !options.json && process.stderr.isTTY;
  const bar = showProgress
    ? new cliProgress.SingleBar({ format: ' {stage} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true, stream: process.stderr }, cliProgress.Presets.shades_classic)
    : null;
  try {
    bar?.start(1, 0, { stage: 'prepare'.padEnd(9) });
    const result = await pipeline.editAsync(
      { image, instruction: options.instruction, parameters: options.parameters },
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
    await writeFile(options.out, result.png).catch((cause: NodeJS.ErrnoException) => {
      throw new MgieError('MGIE_ERR_RUNTIME', `Cannot write ${options.out} (${cause.code ?? cause.message}). Check the folder exists and is writable.`, { cause });
    });
    const summary = {
      expressiveInstruction: result.expressiveInstruction,
      seed: result.parameters.seed,
      steps: result.parameters.steps,
      guidanceScale: result.parameters.guidanceScale,
      imageGuidanceScale: result.parameters.imageGuidanceScale,
      scheduler: result.parameters.scheduler,
      width: result.width,
      height: result.height,
      editWidth: result.editWidth,
      editHeight: result.editHeight,
      generatedIds: result.generatedIds,
      imgHiddenStart: result.imgHiddenStart,
      timings: Object.fromEntries(Object.entries(result.timings).map(([stage, ms]) => [stage, Math.round(ms)])),
      bundle: result.modelName,
      out: options.out,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const total = Object.values(result.timings).reduce((a, b) => a + b, 0);
      process.stdout.write(`Wrote ${options.out} (${result.width}x${result.height}, seed ${summary.seed}, ${summary.steps} steps, ${(total / 1000).toFixed(1)} s).\n`);
    }
  } finally {
    bar?.stop();
    await pipeline.releaseAsync();
  }
}

/** Model text is untrusted on a terminal: control characters (escape sequences) are dropped. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}
