// The edits since the plugin opened, newest first (in memory only: images never go to clientStorage).
// Each row names the layer it came from; one submit over several layers is one group, with its progress,
// Cancel all and the time its waiting edits will take. Cancelled and failed rows say so, with their fix.
import { Button } from '@create-figma-plugin/ui';
import { Fragment, h } from 'preact';
import { fixForJob, type ProblemFix } from '../describe-problem.ts';
import { type EditJob, isActive, representativeResult } from '../jobs/edit-job.ts';
import { historyEntries } from '../jobs/history-entries.ts';
import { estimateGroupSecondsLeft, formatSecondsLeft, type PastTimings } from '../jobs/estimate-progress.ts';
import styles from '../styles.css';
import { ChainSteps } from './chain-steps.tsx';
import { ExpressiveBlock } from './expressive-block.tsx';
import { FixButton } from './fix-button.tsx';
import { VariationStrip } from './variation-strip.tsx';

export interface HistoryActions {
  onReuse(instruction: string): void;
  onShow(clientJobId: string): void;
  onFix(job: EditJob, fix: ProblemFix): void;
  onCancelBatch(batchId: string): void;
  /** Designer features of a finished job: run again with other wording, place a picked variation. */
  onRunAgain?(job: EditJob, expressiveInstruction: string): void;
  onPlaceVariation?(job: EditJob, variation: number): void;
}

export function HistoryList(props: { jobs: EditJob[]; shownJobId?: string; now: number; pastTimings?: PastTimings } & HistoryActions) {
  const entries = historyEntries(props.jobs);
  if (entries.length === 0) return null;
  return (
    <div>
      <div class={styles.label}>This session</div>
      <div class={styles.history} data-testid="history">
        {entries.map((entry) =>
          entry.kind === 'single' ? (
            <HistoryItem {...props} key={entry.job.clientJobId} job={entry.job} shown={entry.job.clientJobId === props.shownJobId} />
          ) : (
            <BatchGroup {...props} key={entry.batchId} batchId={entry.batchId} jobs={entry.jobs} />
          ),
        )}
      </div>
    </div>
  );
}

function BatchGroup(props: { batchId: string; jobs: EditJob[]; shownJobId?: string; now: number; pastTimings?: PastTimings } & HistoryActions) {
  const { jobs } = props;
  const done = jobs.filter((job) => job.phase === 'done').length;
  const active = jobs.filter(isActive);
  const waiting = jobs.filter((job) => job.phase === 'queued').length;
  const left = formatSecondsLeft(estimateGroupSecondsLeft(jobs, props.now, props.pastTimings));
  const [first] = jobs;
  return (
    <div class={styles.group} data-testid="history-group" role="group" aria-label={`${first.instruction}, ${jobs.length} layers`}>
      <div class={styles.row}>
        <div class={`${styles.grow} ${styles.cardTitle}`} data-testid="group-title" title={first.instruction}>
          {first.instruction} · {jobs.length} layers · {done}/{jobs.length} done
        </div>
        {active.length > 0 ? (
          <Button secondary onClick={() => props.onCancelBatch(props.batchId)} data-testid="cancel-all">
            Cancel all
          </Button>
        ) : null}
      </div>
      {active.length > 0 ? (
        <div class={styles.muted} data-testid="group-status">
          {[active.length - waiting > 0 ? `${active.length - waiting} editing` : '', waiting > 0 ? `${waiting} waiting` : '', left].filter(Boolean).join(' · ')}
        </div>
      ) : null}
      {jobs.map((job) => (
        <HistoryItem {...props} key={job.clientJobId} job={job} shown={job.clientJobId === props.shownJobId} inGroup />
      ))}
    </div>
  );
}

const PHASE_ICON: Partial<Record<EditJob['phase'], string>> = { cancelled: '⊘', failed: '!', queued: '…', running: '↻' };

function HistoryItem(props: { job: EditJob; shown: boolean; inGroup?: boolean } & HistoryActions) {
  const { job } = props;
  const fix = fixForJob(job);
  const status =
    job.phase === 'cancelled'
      ? 'Cancelled'
      : job.phase === 'failed'
        ? `Failed: ${job.error ?? 'unknown error'}`
        : job.phase === 'queued'
          ? job.cancelRequested ? 'Cancelling…' : 'Waiting'
          : job.phase === 'running'
            ? job.cancelRequested ? 'Cancelling…' : 'Editing…'
            : job.error
              ? job.error
              : job.phase === 'placing'
                ? 'Placing…'
                : job.placedNodeId
                  ? `Placed · seed ${job.result?.header.seed ?? job.result?.parameters.seed ?? ''}${job.result?.header.cached ? ' · from cache' : ''}`
                  : job.variationResults !== undefined
                    ? `${job.variationResults.length} variations: pick one to place`
                    : 'Done';
  const problem = job.phase === 'failed' || (job.phase === 'done' && job.error !== undefined);
  // Variations not picked yet: the first one stands for them (never an empty square).
  const thumb = representativeResult(job);
  return (
    <div class={`${styles.historyItem} ${props.shown ? styles.historyItemShown : ''}`} data-testid="history-item" data-phase={job.phase}>
      {thumb ? (
        <button type="button" class={styles.thumbButton} onClick={() => props.onShow(job.clientJobId)} aria-label={`Show the result of "${job.instruction}" on ${job.sourceName} large`} aria-pressed={props.shown}>
          <img class={styles.thumb} src={thumb.url} alt="" />
        </button>
      ) : (
        <div class={`${styles.thumb} ${styles.thumbIcon} ${problem ? styles.bad : ''}`} aria-hidden="true" data-testid="phase-icon">
          {PHASE_ICON[job.phase] ?? ''}
        </div>
      )}
      <div class={styles.grow}>
        {props.inGroup ? null : (
          <Fragment>
            <button type="button" class={styles.chip} title="Use this instruction again" onClick={() => props.onReuse(job.instruction)}>
              {job.instruction}
            </button>{' '}
          </Fragment>
        )}
        <div class={styles.layerName} data-testid="layer-name">
          {job.sourceName}
        </div>
        <ChainSteps job={job} />
        <VariationStrip job={job} onPlace={(variation) => props.onPlaceVariation?.(job, variation)} />
        {/* The result shown large carries its own block (result-view.tsx): not twice. */}
        {props.shown ? null : <ExpressiveBlock job={job} onRunAgain={props.onRunAgain ? (text) => props.onRunAgain!(job, text) : undefined} />}
        <div class={`${styles.muted} ${problem ? styles.bad : ''}`} role={problem ? 'alert' : undefined} data-testid="history-status">
          {status}
        </div>
      </div>
      {fix ? <FixButton fix={fix} onFix={(chosen) => props.onFix(job, chosen)} label={fix === 'retry' && job.phase === 'cancelled' ? 'Run again' : undefined} /> : null}
    </div>
  );
}
