// Variations of one edit as a strip to pick from before anything lands on the canvas (as Photoshop's
// Generative Fill): click one to see it large, then "Place this one". Places one or several; never by itself.
import { Button } from '@create-figma-plugin/ui';
import { h } from 'preact';
import { useState } from 'preact/hooks';
import type { EditJob } from '../jobs/edit-job.ts';
import styles from './designer-features.css';

export function VariationStrip(props: { job: EditJob; onPlace(variation: number): void }) {
  const { job } = props;
  const arrived = job.variationResults ?? [];
  const count = Math.max(job.variations ?? 0, arrived[0]?.header.of ?? 0);
  const [picked, setPicked] = useState<number>(1);
  if (count < 2) return null;
  const shown = arrived.find((result) => result.header.variation === picked);
  const finished = arrived.length >= count;
  const placed = new Set(job.placedVariations ?? []);
  return (
    <div data-testid="variation-strip">
      <div class={styles.strip} role="listbox" aria-label={`${count} variations: pick one to place`}>
        {Array.from({ length: count }, (_, index) => {
          const variation = index + 1;
          const result = arrived.find((candidate) => candidate.header.variation === variation);
          if (result === undefined) {
            return <div key={variation} class={`${styles.stripItem} ${styles.stripItemWaiting}`} aria-label={`Variation ${variation}, not ready yet`} />;
          }
          const selected = variation === picked;
          return (
            <button
              key={variation}
              type="button"
              role="option"
              aria-selected={selected}
              class={`${styles.stripItem} ${selected ? styles.stripItemSelected : ''}`}
              data-testid="variation"
              data-variation={variation}
              title={`Variation ${variation} · seed ${result.header.seed ?? result.parameters.seed}`}
              onClick={() => setPicked(variation)}
            >
              <img src={result.url} alt={`Variation ${variation}`} />
              {placed.has(variation) ? <span class={styles.badge}>Placed</span> : null}
            </button>
          );
        })}
      </div>
      {shown ? (
        <div>
          <img class={styles.large} src={shown.url} alt={`Variation ${picked}, large`} data-testid="variation-large" />
          <div class={styles.actions}>
            <Button onClick={() => props.onPlace(picked)} disabled={!finished || job.phase === 'placing'} data-testid="place-variation">
              {placed.has(picked) ? 'Place again' : 'Place this one'}
            </Button>
            <span class={styles.status}>
              Variation {picked} of {count} · seed {shown.header.seed ?? shown.parameters.seed}
            </span>
          </div>
        </div>
      ) : null}
    </div>
  );
}
