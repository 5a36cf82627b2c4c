// Steps, guidance, image guidance, size (mode) and seed, behind a disclosure; presets for the common cases.
import { Disclosure, SegmentedControl, TextboxNumeric, Toggle, VerticalSpace } from '@create-figma-plugin/ui';
import { Fragment, h } from 'preact';
import { useState } from 'preact/hooks';
import type { ServerLimits } from '../../companion-server/protocol/messages.ts';
import type { Hello } from '../connection/companion-connection.ts';
import { type ParameterPreset, type ParameterSettings, type Placement, REFERENCE_PARAMETERS } from '../../plugin/types.ts';
import styles from '../styles.css';

export function ParametersPanel(props: {
  parameters: ParameterSettings;
  placement: Placement;
  hello?: Hello;
  onChange(parameters: ParameterSettings): void;
  onPlacement(placement: Placement): void;
}) {
  const [open, setOpen] = useState(false);
  const { parameters, hello } = props;
  const set = (change: Partial<ParameterSettings>) => props.onChange({ ...parameters, ...change });
  const summary =
    parameters.preset === 'default'
      ? `model defaults${hello ? `: ${hello.model.defaults.steps} steps, ${hello.model.defaults.size} px` : ''}, random seed`
      : parameters.preset === 'reference'
        ? 'MGIE reference'
        : `${parameters.steps} steps, ${parameters.sizeMode === 'native' ? 'native size' : `${parameters.size} px`}, ${parameters.seedMode === 'fixed' ? `seed ${parameters.seed}` : 'random seed'}`;
  return (
    <Disclosure title={`Parameters · ${summary}`} open={open} onClick={() => setOpen(!open)}>
      <SegmentedControl
        value={parameters.preset}
        onValueChange={(preset) => set({ preset: preset as ParameterPreset })}
        options={[
          { value: 'default', children: 'Default' },
          { value: 'reference', children: 'Reference' },
          { value: 'custom', children: 'Custom' },
        ]}
      />
      <VerticalSpace space="small" />
      {parameters.preset === 'default' ? (
        <div class={styles.muted}>The model's own settings, a new seed for every edit.</div>
      ) : parameters.preset === 'reference' ? (
        <div class={styles.muted}>
          The MGIE paper's demo: {REFERENCE_PARAMETERS.steps} steps, guidance {REFERENCE_PARAMETERS.guidanceScale}, image guidance{' '}
          {REFERENCE_PARAMETERS.imageGuidanceScale}, the image's own size (native, up to {hello?.limits.maxEditSize ?? 1024} px a side), seed{' '}
          {REFERENCE_PARAMETERS.seed} (the noise PyTorch draws for it), Euler Ancestral. The same image and instruction give the same result.
        </div>
      ) : (
        <CustomParameters parameters={parameters} limits={hello?.limits} set={set} />
      )}
      <VerticalSpace space="small" />
      <div class={styles.label}>Place the result</div>
      <SegmentedControl
        value={props.placement}
        onValueChange={(value) => props.onPlacement(value as Placement)}
        options={[
          { value: 'beside', children: 'Beside the original' },
          { value: 'replace-fills', children: 'Replace its fills' },
        ]}
      />
    </Disclosure>
  );
}

function CustomParameters(props: { parameters: ParameterSettings; limits?: ServerLimits; set(change: Partial<ParameterSettings>): void }) {
  const { parameters, limits, set } = props;
  const numeric = (
    key: 'steps' | 'guidanceScale' | 'imageGuidanceScale' | 'size' | 'seed',
    label: string,
    options: { minimum: number; maximum?: number; integer?: boolean; suffix?: string; round?: (value: number) => number },
  ) => (
    <div>
      <label class={styles.label} for={`parameter-${key}`}>
        {label}
      </label>
      <TextboxNumeric
        id={`parameter-${key}`}
        value={String(parameters[key])}
        onNumericValueInput={(value) => {
          if (value !== null) set({ [key]: value });
        }}
        minimum={options.minimum}
        maximum={options.maximum}
        integer={options.integer}
        suffix={options.suffix}
        validateOnBlur={options.round ? (value) => (value === null ? false : options.round?.(value) ?? value) : undefined}
      />
    </div>
  );
  return (
    <Fragment>
      <div class={styles.grid}>
        {numeric('steps', 'Steps', { minimum: 1, maximum: limits?.maxSteps, integer: true })}
        {parameters.sizeMode === 'fit' ? numeric('size', 'Size', { minimum: 64, maximum: limits?.maxEditSize, integer: true, suffix: ' px', round: roundToSizeMultiple }) : null}
        {numeric('guidanceScale', 'Text guidance', { minimum: 0, maximum: 30 })}
        {numeric('imageGuidanceScale', 'Image guidance', { minimum: 0, maximum: 10 })}
      </div>
      <VerticalSpace space="small" />
      <div class={styles.label}>Edit size</div>
      <SegmentedControl
        value={parameters.sizeMode}
        onValueChange={(sizeMode) => set({ sizeMode: sizeMode as ParameterSettings['sizeMode'] })}
        options={[
          { value: 'fit', children: 'Fit to size' },
          { value: 'native', children: 'Native' },
        ]}
      />
      <div class={styles.muted}>
        {parameters.sizeMode === 'fit'
          ? 'The long side is scaled to Size; the aspect ratio is kept.'
          : `The layer's own size, as the MGIE notebook edits (up to ${limits?.maxEditSize ?? 1024} px a side).`}
      </div>
      <VerticalSpace space="small" />
      <Toggle value={parameters.seedMode === 'fixed'} onValueChange={(fixed) => set({ seedMode: fixed ? 'fixed' : 'random' })}>
        <span class={styles.muted}>Fixed seed (repeatable)</span>
      </Toggle>
      {parameters.seedMode === 'fixed' ? (
        <Fragment>
          <VerticalSpace space="extraSmall" />
          {numeric('seed', 'Seed', { minimum: 0, maximum: 4294967295, integer: true })}
        </Fragment>
      ) : null}
    </Fragment>
  );
}

/** Edit sizes are multiples of 64 (exported UNets need it; see the bundle format). */
function roundToSizeMultiple(value: number): number {
  return Math.max(64, Math.round(value / 64) * 64);
}
