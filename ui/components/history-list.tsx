// The edits finished since the plugin opened (in memory only: images never go to clientStorage).
import { h } from 'preact';
import type { EditJob } from '../jobs/edit-job.ts';
import styles from '../styles.css';
import { ChainSteps } from './chain-steps.tsx';
import { ExpressiveBlock } from './expressive-block.tsx';
import { VariationStrip } from './variation-strip.tsx';

/** Designer features of a finished job: run again with other wording, place a picked variation. */
export interface HistoryActions {
  onRunAgain?(job: EditJob, expressiveInstruction: string): void;
  onPlaceVariation?(job: EditJob, variation: number): void;
}

export function HistoryList(props: { jobs: EditJob[]; onReuse(instruction: string): void } & HistoryActions) {
  if (props.jobs.length === 0) return null;
  return (
    <div>
      <div class={styles.label}>This session</div>
      <div class={styles.history} data-testid="history">
        {props.jobs.map((job) => (
          <HistoryItem key={job.clientJobId} job={job} onReuse={props.onReuse} onRunAgain={props.onRunAgain} onPlaceVariation={props.onPlaceVariation} />
        ))}
      </div>
    </div>
  );
}

function HistoryItem({ job, onReuse, onRunAgain, onPlaceVariation }: { job: EditJob; onReuse(instruction: string): void } & HistoryActions) {
  const status =
    job.phase === 'cancelled'
      ? 'Cancelled'
      : job.error
        ? job.error
        : job.phase === 'placing'
          ? 'Placing…'
          : job.placedNodeId
            ? `Placed · seed ${job.result?.header.seed ?? job.result?.parameters.seed ?? ''}${job.result?.header.cached ? ' · from cache' : ''}`
            : job.variationResults !== undefined
              ? `${job.variationResults.length} variations: pick one to place`
              : 'Done';
  return (
    <div class={styles.historyItem} data-testid="history-item" data-phase={job.phase}>
      {job.result ? <img class={styles.thumb} src={job.result.url} alt={`Result of "${job.instruction}"`} /> : <div class={styles.thumb} aria-hidden="true" />}
      <div class={styles.grow}>
        <button type="button" class={styles.chip} title="Use this instruction again" onClick={() => onReuse(job.instruction)}>
          {job.instruction}
        </button>
        <ChainSteps job={job} />
        <VariationStrip job={job} onPlace={(variation) => onPlaceVariation?.(job, variation)} />
        <ExpressiveBlock job={job} onRunAgain={onRunAgain ? (text) => onRunAgain(job, text) : undefined} />
        <div class={`${styles.muted} ${job.error ? styles.bad : ''}`} role={job.error ? 'alert' : undefined}>
          {status}
        </div>
      </div>
    </div>
  );
}
