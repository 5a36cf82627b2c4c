// "Pair with the server": the designer's name, then the code the server's terminal shows, then a token
// of their own (companion-server/server/pairing/). No file path, nothing secret to copy.
import { Button, Textbox } from '@create-figma-plugin/ui';
import { Fragment, h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { confirmPairingAsync, requestPairingAsync } from '../connection/pair-with-server-async.ts';
import { parseServerAddress, type ServerAddress } from '../connection/server-address.ts';
import { isLocalAddress } from '../describe-problem.ts';
import styles from './settings-panel.css';

type Step = { kind: 'name' } | { kind: 'code'; pairingId: string; expiresInSeconds: number; codeLength: number };

/** What went wrong, and the button that fixes it when typing again is not the fix. */
interface Problem {
  text: string;
  fix?: 'pair-again' | 'paste-token';
}

export function PairingForm(props: { serverUrl: string; onPaired(token: string, user: string): void; onPasteToken(): void }) {
  const [name, setName] = useState('');
  const [step, setStep] = useState<Step>({ kind: 'name' });
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);

  const codeField = useRef<HTMLInputElement>(null);
  // The code field takes the keyboard as soon as it appears: the designer's next move is to type.
  useEffect(() => {
    if (step.kind === 'code') codeField.current?.focus();
  }, [step]);

  // A pairing request belongs to the server it was made on: another address starts over.
  useEffect(() => {
    setStep({ kind: 'name' });
    setProblem(undefined);
  }, [props.serverUrl]);

  function addressOrProblem(): ServerAddress | undefined {
    const address = parseServerAddress(props.serverUrl);
    if ('error' in address) {
      setProblem({ text: address.error });
      return undefined;
    }
    return address;
  }

  async function pair() {
    const address = addressOrProblem();
    if (!address) return;
    if (name.trim() === '') return setProblem({ text: 'Type your name first: the server shows it next to the code, and your user is named after it.' });
    setBusy(true);
    const result = await requestPairingAsync(address, name.trim());
    setBusy(false);
    if (result.kind === 'code-shown') {
      setStep({ kind: 'code', pairingId: result.pairingId, expiresInSeconds: result.expiresInSeconds, codeLength: result.codeLength });
      setCode('');
      setProblem(undefined);
    } else if (result.kind === 'unreachable') {
      setProblem({ text: unreachableText(address) });
    } else {
      const tokenOnly = result.code === 'MGIE_ERR_PAIRING_DISABLED' || result.code === 'MGIE_ERR_UNAUTHORIZED' || result.code === 'HTTP_404';
      setProblem({ text: result.message, fix: tokenOnly ? 'paste-token' : undefined });
    }
  }

  async function confirm() {
    const address = addressOrProblem();
    if (!address || step.kind !== 'code') return;
    setBusy(true);
    const result = await confirmPairingAsync(address, step.pairingId, code);
    setBusy(false);
    if (result.kind === 'paired') return props.onPaired(result.token, result.user);
    if (result.kind === 'wrong-code') setProblem({ text: result.message });
    else if (result.kind === 'expired') setProblem({ text: result.message, fix: 'pair-again' });
    else if (result.kind === 'unreachable') setProblem({ text: `${unreachableText(address)} The code stays valid for a few minutes: Confirm again once it is back.` });
    else setProblem({ text: result.message });
  }

  const typedLength = code.replace(/[\s-]+/g, '').length;
  return (
    <div class={styles.section} data-testid="pairing" data-step={step.kind}>
      {step.kind === 'name' ? (
        <Fragment>
          <div class={styles.field}>
            <label class={styles.hint} for="pairing-name">
              Your name
            </label>
            <Textbox id="pairing-name" value={name} onValueInput={setName} placeholder="e.g. Anna Müller" onKeyDown={onEnter(pair)} />
          </div>
          <div class={styles.hint}>The server shows your name with a one-time code in its terminal. You type the code here and get a token of your own.</div>
          <div>
            <Button onClick={pair} loading={busy} data-testid="pair">
              Pair
            </Button>
          </div>
        </Fragment>
      ) : (
        <Fragment>
          <div class={styles.field}>
            <label class={styles.hint} for="pairing-code">
              <strong>Type the code shown in the server's terminal</strong>
            </label>
            <div class={styles.codeInput}>
              <Textbox id="pairing-code" value={code} onValueInput={setCode} placeholder="XXX-XXX" ref={codeField} onKeyDown={onEnter(confirm)} />
            </div>
          </div>
          <div class={styles.hint} role="status" data-testid="pairing-status">
            Asked as “{name.trim()}”. The code works once, for {durationText(step.expiresInSeconds)}. On a team server, its admin reads it to you.
          </div>
          <div class={styles.row}>
            <Button onClick={confirm} loading={busy} disabled={typedLength < step.codeLength} data-testid="confirm-code">
              Confirm
            </Button>
            <Button
              secondary
              onClick={() => {
                setStep({ kind: 'name' });
                setProblem(undefined);
              }}
              data-testid="pair-start-over"
            >
              Start over
            </Button>
          </div>
        </Fragment>
      )}
      {problem ? (
        <div class={styles.problem} role="alert" data-testid="pairing-problem">
          <span>{problem.text}</span>
          {problem.fix === 'pair-again' ? (
            <Button secondary onClick={pair} loading={busy} data-testid="pair-again">
              Pair again
            </Button>
          ) : problem.fix === 'paste-token' ? (
            <Button secondary onClick={props.onPasteToken} data-testid="paste-token-fix">
              Paste a token instead
            </Button>
          ) : null}
        </div>
      ) : null}
      {problem?.fix === 'paste-token' ? null : (
        <button type="button" class={styles.linkButton} onClick={props.onPasteToken} data-testid="use-token">
          Paste a token instead (one your admin made with mgie token add)
        </button>
      )}
    </div>
  );
}

function durationText(seconds: number): string {
  return seconds >= 90 ? `${Math.round(seconds / 60)} minutes` : `${seconds} seconds`;
}

function unreachableText(address: ServerAddress): string {
  return isLocalAddress(address)
    ? 'Cannot reach the server at that address. Start it with npm start in the mgie-for-figma folder, then try again.'
    : `Cannot reach ${address.httpBase}. Check that the server runs there and that the address is right, then try again.`;
}

/** Enter in a field does what its button does. */
function onEnter(action: () => void) {
  return (event: KeyboardEvent) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      action();
    }
  };
}
