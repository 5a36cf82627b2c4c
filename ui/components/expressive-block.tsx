// "MGIE understood this as …": the expressive instruction the model wrote (or the designer's own, "Your
// wording"), readable, with Copy, and Edit → "Run again with this" (same layer, instruction, parameters
// and seed; only the wording changes).
import { Button, TextboxMultiline } from '@create-figma-plugin/ui';
import { h } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { type EditJob, representativeResult } from '../jobs/edit-job.ts';
import styles from './designer-features.css';

/** Longer than this, the text starts folded to four lines with "Show all". */
const FOLD_CHARACTERS = 220;

export function ExpressiveBlock(props: { job: EditJob; onRunAgain?(text: string): void }) {
  const { job } = props;
  const text = job.expressiveInstruction;
  const [expanded, setExpanded] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [copyStatus, setCopyStatus] = useState<string | undefined>();
  const textRef = useRef<HTMLDivElement>(null);
  // A chain's steps each have their own text, shown with its step (ChainSteps).
  if (text === undefined || text === '' || job.chain !== undefined) return null;

  const source = representativeResult(job)?.header.expressiveInstructionSource ?? (job.givenExpressiveInstruction !== undefined ? 'given' : 'model');
  const label = source === 'given' ? 'Your wording' : 'MGIE understood this as';
  const canEdit = props.onRunAgain !== undefined && representativeResult(job) !== undefined;
  const long = text.length > FOLD_CHARACTERS;

  async function copyAsync() {
    setCopyStatus(await copyTextAsync(text ?? '', textRef.current));
  }

  if (editing !== null) {
    return (
      <div class={styles.expressiveBlock} data-testid="expressive-block" data-source={source}>
        <label class={styles.blockLabel} for={`expressive-edit-${job.clientJobId}`}>
          Your wording for “{job.instruction}”
        </label>
        <TextboxMultiline
          id={`expressive-edit-${job.clientJobId}`}
          data-testid="expressive-edit"
          value={editing}
          onValueInput={setEditing}
          rows={4}
          spellCheck
        />
        <div class={styles.actions}>
          <Button
            data-testid="run-again"
            disabled={editing.trim() === ''}
            onClick={() => {
              props.onRunAgain?.(editing);
              setEditing(null);
            }}
          >
            Run again with this
          </Button>
          <Button secondary onClick={() => setEditing(null)}>
            Cancel
          </Button>
        </div>
        <div class={styles.status}>
          Same layer, instruction, settings and seed: only the wording changes.
          {/* A re-run exports the layer by itself: the shapes selected over it are not part of it. */}
          {job.maskSent ? ' The whole layer is edited this time, not only under the shapes.' : ''}
        </div>
      </div>
    );
  }

  return (
    <div class={styles.expressiveBlock} data-testid="expressive-block" data-source={source}>
      <div class={styles.blockLabel}>{label}</div>
      <div ref={textRef} class={`${styles.expressiveText} ${long && !expanded ? styles.collapsed : ''}`} data-testid="expressive">
        {text}
      </div>
      <div class={styles.actions}>
        {long ? (
          <button type="button" class={styles.linkButton} aria-expanded={expanded} onClick={() => setExpanded(!expanded)}>
            {expanded ? 'Show less' : 'Show all'}
          </button>
        ) : null}
        <button type="button" class={styles.linkButton} data-testid="copy-expressive" onClick={() => void copyAsync()}>
          Copy
        </button>
        {canEdit ? (
          <button type="button" class={styles.linkButton} data-testid="edit-expressive" onClick={() => setEditing(text)}>
            Edit
          </button>
        ) : null}
        {copyStatus ? (
          <span class={styles.status} role="status" data-testid="copy-status">
            {copyStatus}
          </span>
        ) : null}
      </div>
    </div>
  );
}

/**
 * Figma's plugin iframe is sandboxed and may refuse the Clipboard API: then the old copy command on the
 * selected text, and when that is refused too the text stays selected and the designer is told to copy it.
 */
async function copyTextAsync(text: string, element: HTMLElement | null): Promise<string> {
  if (clipboardAllowed()) {
    try {
      await navigator.clipboard.writeText(text);
      return 'Copied';
    } catch {
      // refused (no focus, no permission): fall through
    }
  }
  if (element === null) return 'Could not copy: select the text and copy it.';
  const selection = window.getSelection();
  const range = document.createRange();
  range.selectNodeContents(element);
  selection?.removeAllRanges();
  selection?.addRange(range);
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  if (copied) return 'Copied';
  const keys = navigator.platform.startsWith('Mac') ? '⌘C' : 'Ctrl+C';
  return `The text is selected: press ${keys} to copy it.`;
}

/** Asking a document whose permissions policy blocks the Clipboard API logs a violation: ask the policy first where it can be asked. */
function clipboardAllowed(): boolean {
  if (navigator.clipboard === undefined) return false;
  const policy = (document as Document & { featurePolicy?: { allowsFeature(feature: string): boolean } }).featurePolicy;
  return policy === undefined || policy.allowsFeature('clipboard-write');
}
