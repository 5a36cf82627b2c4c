// What a front puts in a BullMQ job: small (the image waits in a Redis key of its own, by jobId).
import type { WireEditParameters } from '../../protocol/messages.ts';
import type { SubmitExtras } from '../submit-extras.ts';

export interface EditJobData {
  clientId: string;
  owner: string;
  clientJobId: string;
  instruction: string;
  parameters: WireEditParameters;
  previews: boolean;
  streamEvents: boolean;
  queuedAt: number;
  /** Expressive instruction, variations, chain, masked (submit-extras.ts); absent for a plain edit. */
  extras?: SubmitExtras;
  /** The image's blob holds the mask after the image: its last maskBytes bytes (as in the submit frame). */
  maskBytes?: number;
}

/** How a scale-out deployment behaves; fronts and workers must agree on the prefix. */
export interface ScaleOutSettings {
  /** Key prefix in Redis (several deployments can share one Redis with different prefixes). */
  prefix: string;
  /**
   * A worker holds a job's lock this long and renews it at half; a worker killed mid-job has its job
   * moved back to the queue once the lock expires and a stalled-job check runs (every stalledIntervalMs).
   */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** A worker that sent no heartbeat for this long is taken for gone (not counted for /readyz). */
  workerStaleMs: number;
  /** Bytes of uploaded images Redis may hold; past it fronts refuse new edits (MGIE_ERR_BUSY). */
  imageBudgetBytes: number;
  /** Bytes of results waiting for delivery; past it the oldest are dropped. */
  resultBudgetBytes: number;
  /** Bytes of the shared result cache (0: no cache); past it the oldest entries go. */
  cacheBudgetBytes: number;
  cacheTtlMs: number;
}

export const DEFAULT_SCALE_OUT_SETTINGS: ScaleOutSettings = {
  prefix: 'mgie',
  lockDurationMs: 30_000,
  stalledIntervalMs: 15_000,
  workerStaleMs: 10_000,
  imageBudgetBytes: 512 * 2 ** 20,
  resultBudgetBytes: 512 * 2 ** 20,
  cacheBudgetBytes: 256 * 2 ** 20,
  cacheTtlMs: 24 * 3600_000,
};

/** Tests shorten the stalled-job timings with MGIE_QUEUE_LOCK_MS (the stalled check runs at half of it). */
export function scaleOutSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ScaleOutSettings {
  const lock = Number(env.MGIE_QUEUE_LOCK_MS);
  const settings = { ...DEFAULT_SCALE_OUT_SETTINGS, prefix: env.MGIE_QUEUE_PREFIX?.trim() || DEFAULT_SCALE_OUT_SETTINGS.prefix };
  if (Number.isInteger(lock) && lock >= 500) return { ...settings, lockDurationMs: lock, stalledIntervalMs: Math.round(lock / 2), workerStaleMs: Math.max(3000, 2 * lock) };
  return settings;
}
