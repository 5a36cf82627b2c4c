// Where a result goes and what placing it does to the designer's canvas, outside the Parameters panel:
// these are about the document, not about the edit. A one-line summary opens them.
import { SegmentedControl, VerticalSpace } from '@create-figma-plugin/ui';
import { h } from 'preact';
import type { AfterPlacing, ChainPlacement, Placement, PluginSettings } from '../../plugin/types.ts';
import styles from '../styles.css';

export type PlacingSettings = Pick<PluginSettings, 'placement' | 'afterPlacing' | 'chainPlacement'>;

const PLACEMENT_SHORT: Record<Placement, string> = { beside: 'Place beside', 'replace-fills': 'Replace fills' };
const AFTER_SHORT: Record<AfterPlacing, string> = { stay: 'stay where I am', select: 'select the result' };

export function PlacingSummary(props: { settings: PlacingSettings; open: boolean; onToggle(): void }) {
  return (
    <button type="button" class={styles.summary} onClick={props.onToggle} aria-expanded={props.open} aria-controls="placing-panel" data-testid="placing-summary">
      <span class={styles.summaryCaret} aria-hidden="true">
        {props.open ? '▾' : '▸'}
      </span>
      <span class={styles.grow}>
        {PLACEMENT_SHORT[props.settings.placement]} · {AFTER_SHORT[props.settings.afterPlacing]}
      </span>
    </button>
  );
}

export function PlacingPanel(props: { settings: PlacingSettings; onChange(change: Partial<PlacingSettings>): void }) {
  const { settings } = props;
  return (
    <div class={styles.panel} id="placing-panel" data-testid="placing">
      <div class={styles.label} id="placement-label">
        Place the result
      </div>
      <SegmentedControl
        aria-labelledby="placement-label"
        value={settings.placement}
        onValueChange={(placement) => props.onChange({ placement: placement as Placement })}
        options={[
          { value: 'beside', children: 'Beside the original' },
          { value: 'replace-fills', children: 'Replace its fills' },
        ]}
      />
      <VerticalSpace space="small" />
      <div class={styles.label}>After placing</div>
      <SegmentedControl
        value={settings.afterPlacing}
        onValueChange={(afterPlacing) => props.onChange({ afterPlacing: afterPlacing as AfterPlacing })}
        options={[
          { value: 'stay', children: 'Stay where I am' },
          { value: 'select', children: 'Select the result' },
        ]}
      />
      <div class={styles.help}>
        {settings.afterPlacing === 'stay'
          ? 'Your selection and view stay as they are, as with Figma’s own AI tools; “Show on canvas” finds the result.'
          : 'The result is selected and shown (once for a batch of layers, not once per layer).'}
      </div>
      <VerticalSpace space="small" />
      <div class={styles.label}>Chains</div>
      <SegmentedControl
        value={settings.chainPlacement}
        onValueChange={(chainPlacement) => props.onChange({ chainPlacement: chainPlacement as ChainPlacement })}
        options={[
          { value: 'final', children: 'Place the final result' },
          { value: 'every-step', children: 'Every step' },
        ]}
      />
    </div>
  );
}
