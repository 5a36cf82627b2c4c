// The instruction: Enter edits, Shift+Enter adds a line; recent instructions one click (or Tab, Enter) away.
import { Button, TextboxMultiline, VerticalSpace } from '@create-figma-plugin/ui';
import { type ComponentChildren, h } from 'preact';
import styles from '../styles.css';

export function InstructionField(props: {
  value: string;
  onInput(value: string): void;
  onSubmit(): void;
  recent: string[];
  busy: boolean;
  submitLabel: string;
  disabled: boolean;
  /** Under the instruction, above the Edit button: "Then…" steps, variations, the region note. */
  children?: ComponentChildren;
}) {
  function onKeyDown(event: KeyboardEvent) {
    // isComposing: Enter that confirms an IME composition (Japanese, Chinese...) must not submit.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      props.onSubmit();
    }
  }
  return (
    <div>
      <label class={styles.label} for="instruction">
        Instruction
      </label>
      <TextboxMultiline
        id="instruction"
        data-testid="instruction"
        value={props.value}
        onValueInput={props.onInput}
        onKeyDown={onKeyDown}
        placeholder="Describe the edit, e.g. make it look like autumn"
        rows={3}
        spellCheck
        aria-describedby="instruction-hint"
      />
      {props.children}
      <VerticalSpace space="extraSmall" />
      <div class={styles.row}>
        <div id="instruction-hint" class={`${styles.muted} ${styles.grow}`}>
          Enter to edit · Shift+Enter for a new line
        </div>
        <Button onClick={props.onSubmit} loading={props.busy} disabled={props.disabled} data-testid="submit">
          {props.submitLabel}
        </Button>
      </div>
      {props.recent.length > 0 ? (
        <div>
          <VerticalSpace space="small" />
          <div class={styles.muted}>Recent</div>
          <VerticalSpace space="extraSmall" />
          <div class={styles.chips} data-testid="recent">
            {props.recent.slice(0, 5).map((instruction) => (
              <button key={instruction} type="button" class={styles.chip} title={instruction} onClick={() => props.onInput(instruction)}>
                {instruction}
              </button>
            ))}
          </div>
        </div>
      ) : null}
    </div>
  );
}
