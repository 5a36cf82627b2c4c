import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The server's Prometheus metrics, on a registry of its own (no global state between app instances). */
export function createServerMetrics(queueDepth: () => number) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mgie_' });
  const seconds = [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
  return {
    registry,
    queueDepth: new Gauge({ name: 'mgie_queue_depth', help: 'Edits waiting in the queue', registers: [registry], collect() { this.set(queueDepth()); } }),
    waitSeconds: new Histogram({ name: 'mgie_job_wait_seconds', help: 'Time an edit waited before it started', buckets: seconds, registers: [registry] }),
    runSeconds: new Histogram({ name: 'mgie_job_run_seconds', help: 'Time an edit ran', buckets: seconds, registers: [registry] }),
    jobs: new Counter({ name: 'mgie_jobs_total', help: 'Edits by outcome', labelNames: ['outcome'] as const, registers: [registry] }),
    modelLoadSeconds: new Gauge({ name: 'mgie_model_load_seconds', help: 'Time the model bundle took to load', registers: [registry] }),
  };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>;
