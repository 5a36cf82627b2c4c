// The history as the designer reads it: one entry per single edit, one per batch (a submit over several
// layers), newest first.
import { type EditJob, isActive } from './edit-job.ts';

/** One line of the history: an edit of one layer, or a batch over several. */
export type HistoryEntry = { kind: 'single'; job: EditJob } | { kind: 'batch'; batchId: string; jobs: EditJob[] };

/** Finished single edits and every batch (its group shows its edits still running too), newest first. */
export function historyEntries(jobs: readonly EditJob[]): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  const batches = new Map<string, EditJob[]>();
  for (const job of jobs) {
    if (job.batchId === undefined) {
      if (!isActive(job)) entries.push({ kind: 'single', job });
      continue;
    }
    const members = batches.get(job.batchId);
    if (members) members.push(job);
    else {
      const list = [job];
      batches.set(job.batchId, list);
      entries.push({ kind: 'batch', batchId: job.batchId, jobs: list });
    }
  }
  return entries;
}
