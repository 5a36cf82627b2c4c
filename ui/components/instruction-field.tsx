// The instruction: Enter edits, Shift+Enter adds a line; recent instructions one click (or Tab, Enter) away.
import { Button, TextboxMultiline, VerticalSpace } from '@create-figma-plugin/ui';
import { type ComponentChildren, h } from 'preact';
import { countCharacters } from '../../companion-server/protocol/count-characters.ts';
import styles from '../styles.css';

export function InstructionField(props: {
  value: string;
  onInput(value: string): void;
  onSubmit(): void;
  recent: string[];
  busy: boolean;
  submitLabel: string;
  disabled: boolean;
  /** Under the instruction, above the Edit button: the "Then…" steps and the region note. */
  children?: ComponentChildren;
  /** In the Edit button's row, before it: "Then…" and the variations. */
  controls?: ComponentChildren;
  /** The server's limits.maxInstructionLength, in code points; unknown until connected. */
  maxLength?: number;
}) {
  // Counted as the server counts (code points, so an emoji is one), live as the designer types.
  const length = countCharacters(props.value);
  const over = props.maxLength !== undefined && length > props.maxLength;
  function onKeyDown(event: KeyboardEvent) {
    // isComposing: Enter that confirms an IME composition (Japanese, Chinese...) must not submit.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      // Too long: the count below already says so; no second message.
      if (!over) props.onSubmit();
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
        placeholder="Describe the edit, e.g. make it look like autumn (Enter edits)"
        rows={3}
        spellCheck
        aria-describedby="instruction-hint instruction-count"
        aria-invalid={over}
      />
      {props.children}
      <VerticalSpace space="extraSmall" />
      <div class={styles.row}>
        {props.controls}
        <div class={styles.grow} />
        {/* Said by the placeholder on screen; the hint stays for screen readers. */}
        <div id="instruction-hint" class={styles.visuallyHidden}>
          Enter: edit · Shift+Enter: new line
        </div>
        {props.maxLength !== undefined ? (
          <div id="instruction-count" class={`${styles.muted} ${over ? styles.bad : ''}`} aria-live={over ? 'assertive' : 'off'} data-testid="character-count" data-over={over}>
            {over ? `${length} / ${props.maxLength}: shorten it` : `${length} / ${props.maxLength}`}
          </div>
        ) : null}
        <Button onClick={props.onSubmit} loading={props.busy} disabled={props.disabled || over} data-testid="submit">
          {props.submitLabel}
        </Button>
      </div>
      {props.recent.length > 0 ? (
        <div>
          <VerticalSpace space="extraSmall" />
          {/* One line (it scrolls sideways): the running edit's preview below must stay in view. */}
          <div class={styles.recentLine} data-testid="recent" aria-label="Recent instructions" role="group">
            <span class={styles.muted}>Recent</span>
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
