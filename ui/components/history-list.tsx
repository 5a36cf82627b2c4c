// The edits finished since the plugin opened (in memory only: images never go to clientStorage).
import { h } from 'preact';
import type { EditJob } from '../jobs/edit-job.ts';
import styles from '../styles.css';

export function HistoryList(props: { jobs: EditJob[]; onReuse(instruction: string): void }) {
  if (props.jobs.length === 0) return null;
  return (
    <div>
      <div class={styles.label}>This session</div>
      <div class={styles.history} data-testid="history">
        {props.jobs.map((job) => (
          <HistoryItem key={job.clientJobId} job={job} onReuse={props.onReuse} />
        ))}
      </div>
    </div>
  );
}

function HistoryItem({ job, onReuse }: { job: EditJob; onReuse(instruction: string): void }) {
  const status =
    job.phase === 'cancelled'
      ? 'Cancelled'
      : job.error
        ? job.error
        : job.phase === 'placing'
          ? 'Placing…'
          : job.placedNodeId
            ? `Placed · seed ${job.result?.parameters.seed ?? ''}${job.result?.header.cached ? ' · from cache' : ''}`
            : 'Done';
  return (
    <div class={styles.historyItem} data-testid="history-item" data-phase={job.phase}>
      {job.result ? <img class={styles.thumb} src={job.result.url} alt={`Result of "${job.instruction}"`} /> : <div class={styles.thumb} aria-hidden="true" />}
      <div class={styles.grow}>
        <button type="button" class={styles.chip} title="Use this instruction again" onClick={() => onReuse(job.instruction)}>
          {job.instruction}
        </button>
        {job.expressiveInstruction ? <div class={`${styles.muted} ${styles.clamp}`}>“{job.expressiveInstruction}”</div> : null}
        <div class={`${styles.muted} ${job.error ? styles.bad : ''}`} role={job.error ? 'alert' : undefined}>
          {status}
        </div>
      </div>
    </div>
  );
}
