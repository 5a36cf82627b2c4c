// Next to the Edit button: how many variations to make, and, when shapes over the layer limit the edit,
// which ones ("only under Circle").
import { h } from 'preact';
import type { ChainPlacement, SelectionItem } from '../../plugin/types.ts';
import styles from './designer-features.css';

/** The strip shows four at the 360 px window; the server would take up to MAX_WIRE_VARIATIONS. */
export const MAX_UI_VARIATIONS = 4;

/** A native select: one tab stop between the instruction and Edit, and the keyboard works as everywhere. */
export function VariationsControl(props: { value: number; onChange(value: number): void; chained: boolean }) {
  const title = props.chained ? 'Variations are for one edit, not a chain: remove the "Then…" steps to make several.' : 'How many versions to make, to pick from before placing';
  return (
    <div class={styles.optionsInline}>
      <label class={styles.optionLabel} for="variations">
        Variations
      </label>
      <select
        id="variations"
        class={styles.select}
        data-testid="variations"
        title={title}
        value={props.chained ? '1' : String(props.value)}
        disabled={props.chained}
        onChange={(event) => props.onChange(Number(event.currentTarget.value))}
      >
        {Array.from({ length: MAX_UI_VARIATIONS }, (_, index) => (
          <option key={index} value={String(index + 1)}>
            {index === 0 ? '1 (place it)' : `${index + 1} to pick from`}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Shown while the instruction has "Then…" steps: place only the chain's result, or every step's (settings.chainPlacement). */
export function ChainPlacementControl(props: { value: ChainPlacement; onChange(value: ChainPlacement): void }) {
  return (
    <div class={styles.options}>
      <label class={styles.optionLabel} for="chain-placement">
        Place
      </label>
      <select
        id="chain-placement"
        class={styles.select}
        data-testid="chain-placement"
        value={props.value}
        onChange={(event) => props.onChange(event.currentTarget.value === 'every-step' ? 'every-step' : 'final')}
      >
        <option value="final">the final result</option>
        <option value="every-step">every step, side by side</option>
      </select>
    </div>
  );
}

export function RegionNote(props: { items: SelectionItem[] }) {
  const names = [...new Set(props.items.flatMap((item) => item.regionShapeNames ?? []))];
  if (names.length === 0) return null;
  return (
    <div class={styles.region} data-testid="region-note">
      Only under {formatNames(names)}: the rest of the layer is kept.
    </div>
  );
}

function formatNames(names: string[]): string {
  const quoted = names.map((name) => `“${name}”`);
  if (quoted.length <= 1) return quoted.join('');
  if (quoted.length <= 3) return `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
  return `${quoted.slice(0, 2).join(', ')} and ${quoted.length - 2} more shapes`;
}
