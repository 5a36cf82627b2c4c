// "Then…": further instructions under the instruction, each editing the previous step's result (a chain).
import { h } from 'preact';
import { MAX_WIRE_CHAIN_STEPS } from '../../companion-server/protocol/messages.ts';
import styles from './designer-features.css';

/** `steps` are the lines after the instruction (step 2 on); the server takes MAX_WIRE_CHAIN_STEPS in all. */
export function ChainEditor(props: { steps: string[]; onChange(steps: string[]): void; onSubmit?(): void }) {
  const { steps } = props;
  if (steps.length === 0) return null;
  function set(index: number, value: string) {
    props.onChange(steps.map((line, other) => (other === index ? value : line)));
  }
  return (
    <div data-testid="chain-editor">
      {steps.map((line, index) => (
        <div key={index} class={styles.chainLine}>
          <label class={styles.chainLabel} for={`chain-step-${index + 2}`}>
            Then
          </label>
          <input
            id={`chain-step-${index + 2}`}
            class={styles.chainInput}
            data-testid="chain-line"
            value={line}
            placeholder={`Step ${index + 2}, e.g. make it night`}
            spellcheck
            onInput={(event) => set(index, event.currentTarget.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && !event.isComposing) {
                event.preventDefault();
                props.onSubmit?.();
              }
            }}
          />
          <button
            type="button"
            class={styles.linkButton}
            aria-label={`Remove step ${index + 2}`}
            title="Remove this step"
            onClick={() => props.onChange(steps.filter((_, other) => other !== index))}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

/** "Then…", in the row of the Edit button (one line: the running edit's preview below must stay in view). */
export function AddChainStepButton(props: { steps: string[]; onChange(steps: string[]): void }) {
  const canAdd = props.steps.length < MAX_WIRE_CHAIN_STEPS - 1;
  return (
    <button
      type="button"
      class={styles.linkButton}
      data-testid="add-chain-step"
      disabled={!canAdd}
      onClick={() => props.onChange([...props.steps, ''])}
      title={canAdd ? "Add an instruction that edits this one's result" : `${MAX_WIRE_CHAIN_STEPS} steps is the most one chain takes.`}
    >
      Then…
    </button>
  );
}
