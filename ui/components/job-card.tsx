// One edit in progress: where it is in the queue or the model, time left, what the model imagines,
// the image as it develops, and Cancel.
import { Button } from '@create-figma-plugin/ui';
import { h } from 'preact';
import { type EditJob, titleOf } from '../jobs/edit-job.ts';
import { estimateProgress, formatSecondsLeft, type PastTimings } from '../jobs/estimate-progress.ts';
import styles from '../styles.css';
import { ChainSteps } from './chain-steps.tsx';
import { ExpressiveBlock } from './expressive-block.tsx';

export function JobCard(props: { job: EditJob; now: number; pastTimings?: PastTimings; onCancel(): void }) {
  const { job } = props;
  const progress = estimateProgress(job, props.now, props.pastTimings);
  const percent = Math.round(progress.fraction * 100);
  const left = formatSecondsLeft(progress.secondsLeft);
  return (
    <div class={styles.card} data-testid="job" data-phase={job.phase}>
      <div class={styles.row}>
        <div class={`${styles.cardTitle} ${styles.grow}`} title={`${titleOf(job)} · ${job.sourceName}`}>
          {titleOf(job)} <span class={styles.muted}>· {job.sourceName}</span>
        </div>
        <Button secondary onClick={props.onCancel} disabled={job.cancelRequested === true} data-testid="cancel" aria-label={`Cancel "${job.instruction}"`}>
          {job.cancelRequested ? 'Cancelling…' : 'Cancel'}
        </Button>
      </div>
      <div class={styles.progressTrack} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-label="Edit progress">
        <div class={styles.progressBar} style={{ width: `${percent}%` }} />
      </div>
      <div class={styles.muted} data-testid="job-status">
        {progress.label}
        {left ? ` · ${left}` : ''}
      </div>
      {/* The picture first: it is what the designer waits for, and it must be in view at the window's height. */}
      {job.preview ? <img class={styles.preview} src={job.preview.url} alt={`Preview at step ${job.preview.step} of ${job.preview.steps}`} data-testid="preview" /> : null}
      <ChainSteps job={job} />
      <ExpressiveBlock job={job} />
    </div>
  );
}
