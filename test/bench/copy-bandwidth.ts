// This machine's memory bandwidth, measured as the benchmark needs it: the bound on a decoder that
// reads every weight once per token is (weight bytes) / (bandwidth). Each of `threads` workers copies
// its own buffer, much larger than the caches; bandwidth counts bytes read plus bytes written, as
// STREAM's "copy" does, and the best of a few rounds is kept (others share this machine).
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { bytes, rounds } = workerData;
const source = Buffer.alloc(bytes, 1);
const target = Buffer.alloc(bytes);
source.copy(target); // touch every page before timing
const seconds = [];
for (let i = 0; i < rounds; i++) {
  const started = process.hrtime.bigint();
  source.copy(target);
  seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
}
parentPort.postMessage(seconds);
`;

export interface CopyBandwidth {
  /** GB/s (10^9 bytes), read + write, all workers together, best round. */
  gbPerSecond: number;
  threads: number;
  bytesPerThread: number;
}

export async function measureCopyBandwidthAsync(options: { threads: number; bytesPerThread?: number; rounds?: number }): Promise<CopyBandwidth> {
  const bytesPerThread = options.bytesPerThread ?? 256 * 2 ** 20;
  const rounds = options.rounds ?? 5;
  const perWorker = await Promise.all(
    Array.from({ length: options.threads }, () => new Promise<number[]>((resolve, reject) => {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bytes: bytesPerThread, rounds } });
      worker.once('message', (seconds: number[]) => {
        resolve(seconds);
        void worker.terminate();
      });
      worker.once('error', reject);
    })),
  );
  // Rounds run side by side in the workers; a round's time is its slowest worker's.
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) best = Math.min(best, Math.max(...perWorker.map((seconds) => seconds[round])));
  return { gbPerSecond: (2 * bytesPerThread * options.threads) / best / 1e9, threads: options.threads, bytesPerThread };
}
