// Runs models/export/bench_torch.py: the stages the runtime benchmark times, in PyTorch with
// transformers and diffusers, on the weights the bundle was exported from, with as many threads.
import { spawn } from 'node:child_process';
import type { BundleFigures } from './measure-bundle-edit.ts';

export interface TorchStageTimes {
  versions: { torch: string; transformers: string; diffusers: string };
  threads: number;
  /** ms, as the runtime's EditFigures.modelMs names them. */
  stages: { vision?: number; prefill?: number; decodeToken?: number; editHead?: number };
  sizes: Record<string, { vaeEncode?: number; unetStep?: number; vaeDecode?: number }>;
  note?: string;
}

export async function torchStageTimesAsync(options: { python: string; directory: string; figures: BundleFigures; threads: number; repo: string }): Promise<TorchStageTimes> {
  const first = options.figures.edits[0];
  const args = [
    '-m', 'models.export.bench_torch',
    '--bundle', options.directory,
    '--threads', String(options.threads),
    '--prompt-tokens', String(first.promptTokens),
    // PyTorch's decode is timed over fewer tokens than the runtime generated: the per-token figure
    // barely depends on it, and a fp32 7B token takes seconds there.
    '--decode-tokens', String(Math.min(16, Math.max(2, first.generatedTokens))),
    '--sizes', options.figures.edits.map((e) => e.size).join(','),
    '--steps', options.figures.edits.map((e) => Math.min(e.steps, 3)).join(','),
  ];
  console.log(`\n  PyTorch side: ${options.python} ${args.join(' ')}`);
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(options.python, args, { cwd: options.repo, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', (error) => reject(new Error(`could not start ${options.python} (${error.message}); set MGIE_PYTHON or --python to a Python with the exporter's packages`)));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench_torch.py failed (exit ${code}); see its output above`))));
  });
  const lastLine = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(lastLine) as TorchStageTimes;
}
