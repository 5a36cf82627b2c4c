// A chain's steps as they run: each step's picture, its instruction and what MGIE understood it as.
import { h } from 'preact';
import type { EditJob } from '../jobs/edit-job.ts';
import styles from './designer-features.css';

export function ChainSteps(props: { job: EditJob }) {
  const { job } = props;
  if (job.chain === undefined) return null;
  const current = job.chainStep?.step;
  return (
    <ol class={styles.steps} data-testid="chain-steps" aria-label={`Chain of ${job.chain.length} steps`}>
      {job.chain.map((instruction, index) => {
        const step = index + 1;
        const state = job.chainSteps?.find((candidate) => candidate.step === step);
        const running = step === current && state?.result === undefined && (job.phase === 'running' || job.phase === 'queued');
        return (
          <li key={step} class={`${styles.step} ${running ? styles.stepCurrent : ''}`} data-testid="chain-step" data-step={step} data-done={state?.result ? 'true' : 'false'}>
            {state?.result ? <img class={styles.stepThumb} src={state.result.url} alt={`Step ${step} result`} /> : <div class={styles.stepThumb} aria-hidden="true" />}
            <div class={styles.stepText}>
              <div class={styles.stepInstruction}>
                {step}. {state?.instruction ?? instruction}
              </div>
              {state?.expressiveInstruction ? (
                <div class={styles.stepExpressive} title={state.expressiveInstruction}>
                  MGIE understood: {state.expressiveInstruction}
                </div>
              ) : running ? (
                <div class={styles.stepExpressive}>Running…</div>
              ) : null}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
