// A finished edit, large: the result at the panel's full width (aspect kept, never cropped), before and
// after (hold "Before", or drag the slider), "Show on canvas", and what MGIE understood the edit as.
import { Button } from '@create-figma-plugin/ui';
import { h } from 'preact';
import { useState } from 'preact/hooks';
import type { ProblemFix } from '../describe-problem.ts';
import { fixForJob } from '../describe-problem.ts';
import { type EditJob, titleOf } from '../jobs/edit-job.ts';
import { ExpressiveBlock } from './expressive-block.tsx';
import styles from '../styles.css';
import { FixButton } from './fix-button.tsx';

export function ResultView(props: { job: EditJob; onShowOnCanvas(nodeId: string): void; onFix(fix: ProblemFix): void; onRunAgain?(expressiveInstruction: string): void }) {
  const { job } = props;
  const result = job.result;
  // 0: all after; 100: all before. The slider's left part shows the original.
  const [split, setSplit] = useState(0);
  const [holding, setHolding] = useState(false);
  if (result === undefined) return null;
  const beforeShown = holding ? 100 : split;
  const fix = fixForJob(job);
  const hold = (on: boolean) => () => setHolding(on);
  const holdKey = (on: boolean) => (event: KeyboardEvent) => {
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      if (!event.repeat || on) setHolding(on);
    }
  };
  return (
    <section class={styles.result} aria-label={`Result of "${job.instruction}" on ${job.sourceName}`} data-testid="result" data-phase={job.phase}>
      <div class={styles.resultTitle}>
        <span class={styles.grow} title={titleOf(job)}>
          {titleOf(job)}
        </span>
        <span class={styles.muted}>{job.sourceName}</span>
      </div>
      <div class={styles.compare} style={{ aspectRatio: `${result.header.width} / ${result.header.height}` }} data-testid="compare">
        <img class={styles.compareImage} src={result.url} alt={`After: "${job.instruction}"`} data-testid="result-image" />
        {job.originalUrl ? (
          <img
            class={styles.compareImage}
            src={job.originalUrl}
            alt={beforeShown > 0 ? `Before: ${job.sourceName}` : ''}
            aria-hidden={beforeShown === 0}
            style={{ clipPath: `inset(0 ${100 - beforeShown}% 0 0)` }}
            data-testid="original-image"
            data-shown={beforeShown}
          />
        ) : null}
        {beforeShown > 0 && beforeShown < 100 ? <div class={styles.compareLine} style={{ left: `${beforeShown}%` }} aria-hidden="true" /> : null}
      </div>
      {job.originalUrl ? (
        <div class={styles.row}>
          <button
            type="button"
            class={styles.holdButton}
            aria-pressed={holding}
            onPointerDown={hold(true)}
            onPointerUp={hold(false)}
            onPointerLeave={hold(false)}
            onPointerCancel={hold(false)}
            onKeyDown={holdKey(true)}
            onKeyUp={holdKey(false)}
            onBlur={hold(false)}
            title="Press and hold to see the original"
            data-testid="hold-before"
          >
            Before
          </button>
          <input
            type="range"
            class={`${styles.grow} ${styles.slider}`}
            min={0}
            max={100}
            value={split}
            onInput={(event) => setSplit(Number((event.currentTarget as HTMLInputElement).value))}
            aria-label="Compare: how much of the original to show"
            aria-valuetext={split === 0 ? 'Result only' : split === 100 ? 'Original only' : `${split}% original`}
            data-testid="compare-slider"
          />
          {job.placedNodeId ? (
            <Button secondary onClick={() => props.onShowOnCanvas(job.placedNodeId as string)} data-testid="show-on-canvas">
              Show on canvas
            </Button>
          ) : null}
        </div>
      ) : job.placedNodeId ? (
        <Button secondary onClick={() => props.onShowOnCanvas(job.placedNodeId as string)} data-testid="show-on-canvas">
          Show on canvas
        </Button>
      ) : null}
      {job.error ? (
        <div class={styles.row}>
          <div class={`${styles.muted} ${styles.bad} ${styles.grow}`} role="alert">
            {job.error}
          </div>
          {fix ? <FixButton fix={fix} onFix={props.onFix} /> : null}
        </div>
      ) : null}
      <div data-testid="result-expressive">
        <ExpressiveBlock job={job} onRunAgain={props.onRunAgain} />
      </div>
    </section>
  );
}
