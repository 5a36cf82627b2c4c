import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Users named in labels; the others are counted as `_other` (a name cannot start with `_`), so a box with many users cannot blow up the series count. */
export const MAX_USER_LABELS = 50;

/** The server's Prometheus metrics, on a registry of its own (no global state between app instances). */
export function createServerMetrics(queueDepth: () => number) {
  const registry = new Registry();
  const labelledUsers = new Set<string>();
  collectDefaultMetrics({ register: registry, prefix: 'mgie_' });
  const seconds = [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
  return {
    registry,
    queueDepth: new Gauge({ name: 'mgie_queue_depth', help: 'Edits waiting in the queue', registers: [registry], collect() { this.set(queueDepth()); } }),
    waitSeconds: new Histogram({ name: 'mgie_job_wait_seconds', help: 'Time an edit waited before it started, per user', labelNames: ['user'] as const, buckets: seconds, registers: [registry] }),
    runSeconds: new Histogram({ name: 'mgie_job_run_seconds', help: 'Time an edit ran, per user', labelNames: ['user'] as const, buckets: seconds, registers: [registry] }),
    jobs: new Counter({ name: 'mgie_jobs_total', help: 'Edits by outcome and user', labelNames: ['outcome', 'user'] as const, registers: [registry] }),
    /** The `user` label for a job owner: its name, or `_other` past MAX_USER_LABELS names. */
    userLabel(owner: string): string {
      if (labelledUsers.has(owner)) return owner;
      if (labelledUsers.size >= MAX_USER_LABELS) return '_other';
      labelledUsers.add(owner);
      return owner;
    },
    modelLoadSeconds: new Gauge({ name: 'mgie_model_load_seconds', help: 'Time the model bundle took to load', registers: [registry] }),
  };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>;
