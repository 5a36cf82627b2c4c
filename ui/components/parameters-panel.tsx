// The edit's parameters in a designer's words: a one-line summary under the instruction that opens the
// panel (presets for the common cases, each value with what it does).
import { SegmentedControl, TextboxNumeric, Toggle, VerticalSpace } from '@create-figma-plugin/ui';
import { Fragment, h } from 'preact';
import type { ServerLimits } from '../../companion-server/protocol/messages.ts';
import type { Hello } from '../connection/companion-connection.ts';
import { clampToLimits, SIZE_MULTIPLE } from '../clamp-to-limits.ts';
import { type ParameterPreset, type ParameterSettings, REFERENCE_PARAMETERS } from '../../plugin/types.ts';
import { toWireParameters } from '../to-wire-parameters.ts';
import styles from '../styles.css';

const PRESET_NAME: Record<ParameterPreset, string> = { default: 'Default', reference: 'Reference', custom: 'Custom' };

/**
 * "Default · 20 steps · 512 px · random seed": the values an edit will use, after the server's limits
 * (a remembered 500 steps shows as the 8 a small server takes).
 */
export function summarizeParameters(parameters: ParameterSettings, hello?: Hello): string {
  const wire = toWireParameters(parameters);
  const { parameters: sent, lowered } = hello ? clampToLimits(wire, hello.limits) : { parameters: wire, lowered: [] };
  const defaults = hello?.model.defaults;
  const steps = sent.steps ?? (defaults ? Math.min(defaults.steps, hello.limits.maxSteps) : undefined);
  const size = (sent.sizeMode ?? 'fit') === 'native' ? 'native size' : (sent.size ?? (defaults ? Math.min(defaults.size, hello.limits.maxEditSize) : undefined));
  const parts = [
    PRESET_NAME[parameters.preset],
    steps === undefined ? "the model's settings" : `${steps} steps`,
    size === undefined ? undefined : typeof size === 'number' ? `${size} px` : size,
    sent.seed === undefined ? 'random seed' : `seed ${sent.seed}`,
    // Said, not hidden: the designer set more than this server takes.
    lowered.length > 0 ? "lowered to the server's limits" : undefined,
  ];
  return parts.filter((part) => part !== undefined).join(' · ');
}

/** The summary line; a click (or Enter) opens and closes the panel below it. */
export function ParametersSummary(props: { parameters: ParameterSettings; hello?: Hello; open: boolean; onToggle(): void }) {
  return (
    <button
      type="button"
      class={styles.summary}
      onClick={props.onToggle}
      aria-expanded={props.open}
      aria-controls="parameters-panel"
      title="Parameters"
      data-testid="settings-summary"
    >
      <span class={styles.summaryCaret} aria-hidden="true">
        {props.open ? '▾' : '▸'}
      </span>
      <span class={styles.grow}>{summarizeParameters(props.parameters, props.hello)}</span>
    </button>
  );
}

export function ParametersPanel(props: { parameters: ParameterSettings; hello?: Hello; onChange(parameters: ParameterSettings): void }) {
  const { parameters, hello } = props;
  const set = (change: Partial<ParameterSettings>) => props.onChange({ ...parameters, ...change });
  return (
    <div class={styles.panel} id="parameters-panel" data-testid="parameters">
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
    </div>
  );
}

function CustomParameters(props: { parameters: ParameterSettings; limits?: ServerLimits; set(change: Partial<ParameterSettings>): void }) {
  const { parameters, limits, set } = props;
  const numeric = (
    key: 'steps' | 'guidanceScale' | 'imageGuidanceScale' | 'size' | 'seed',
    label: string,
    help: string,
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
        aria-describedby={`parameter-${key}-help`}
      />
      <div class={styles.help} id={`parameter-${key}-help`}>
        {help}
      </div>
    </div>
  );
  return (
    <Fragment>
      <div class={styles.grid}>
        {numeric('guidanceScale', 'Follow the instruction', 'How closely to follow the instruction. Higher: bolder edits.', { minimum: 0, maximum: 30 })}
        {numeric('imageGuidanceScale', 'Keep the original', 'How much of the original to keep. Higher: closer to it.', { minimum: 0, maximum: 10 })}
        {numeric('steps', 'Detail (steps)', `More steps: finer detail, slower${limits ? ` (at most ${limits.maxSteps})` : ''}.`, {
          minimum: 1,
          maximum: limits?.maxSteps,
          integer: true,
        })}
        {parameters.sizeMode === 'fit'
          ? numeric('size', 'Size', `The long side the model edits at${limits ? ` (at most ${limits.maxEditSize} px)` : ''}; the result comes back at the layer's size.`, {
              minimum: SIZE_MULTIPLE,
              maximum: limits?.maxEditSize,
              integer: true,
              suffix: ' px',
              round: roundToSizeMultiple,
            })
          : null}
      </div>
      <VerticalSpace space="small" />
      <div class={styles.label}>Edit at</div>
      <SegmentedControl
        value={parameters.sizeMode}
        onValueChange={(sizeMode) => set({ sizeMode: sizeMode as ParameterSettings['sizeMode'] })}
        options={[
          { value: 'fit', children: 'A set size' },
          { value: 'native', children: "The layer's size" },
        ]}
      />
      <div class={styles.help}>
        {parameters.sizeMode === 'fit'
          ? 'The long side is scaled to Size; the aspect ratio is kept.'
          : `The layer's own size, as the MGIE notebook edits (up to ${limits?.maxEditSize ?? 1024} px a side).`}
      </div>
      <VerticalSpace space="small" />
      <Toggle value={parameters.seedMode === 'fixed'} onValueChange={(fixed) => set({ seedMode: fixed ? 'fixed' : 'random' })}>
        <span class={styles.muted}>Same result every time (fixed seed)</span>
      </Toggle>
      {parameters.seedMode === 'fixed' ? (
        <Fragment>
          <VerticalSpace space="extraSmall" />
          {numeric('seed', 'Seed', 'The same seed, image and instruction give the same result.', { minimum: 0, maximum: 4294967295, integer: true })}
        </Fragment>
      ) : null}
    </Fragment>
  );
}

function roundToSizeMultiple(value: number): number {
  return Math.max(SIZE_MULTIPLE, Math.round(value / SIZE_MULTIPLE) * SIZE_MULTIPLE);
}
