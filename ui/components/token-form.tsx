// "Paste a token instead": for a token an admin made with `mgie token add`. Save stays off until
// Test connection succeeded with exactly the address and token in the fields.
import { Button, Textbox } from '@create-figma-plugin/ui';
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ProbeResult } from '../connection/probe-server-async.ts';
import styles from './settings-panel.css';

export type TestOutcome = ProbeResult | { kind: 'bad-address'; message: string };

interface Tested {
  serverUrl: string;
  token: string;
  outcome: TestOutcome;
}

export function TokenForm(props: {
  serverUrl: string;
  initialToken: string;
  onTest(serverUrl: string, token: string): Promise<TestOutcome>;
  onSave(token: string): void;
  onPair(): void;
}) {
  const [token, setToken] = useState(props.initialToken);
  const [testing, setTesting] = useState(false);
  const [tested, setTested] = useState<Tested | undefined>(undefined);

  // An outcome speaks for the values it tested: any change to a field and it no longer counts, even
  // when the change is undone (the designer cannot see that the values are the tested ones again).
  useEffect(() => setTested(undefined), [props.serverUrl]);
  const current = tested !== undefined && tested.serverUrl === props.serverUrl && tested.token === token ? tested.outcome : undefined;
  const canSave = current?.kind === 'ok';

  async function test() {
    const values = { serverUrl: props.serverUrl, token };
    setTesting(true);
    const outcome = await props.onTest(values.serverUrl, values.token);
    setTesting(false);
    setTested({ ...values, outcome });
  }

  return (
    <div class={styles.section} data-testid="token-form">
      <div class={styles.field}>
        <label class={styles.hint} for="server-token">
          Token
        </label>
        <Textbox
          id="server-token"
          value={token}
          onValueInput={(value) => {
            setToken(value);
            setTested(undefined);
          }}
          password placeholder="Paste the token your admin gave you" />
      </div>
      <div class={styles.row}>
        <Button secondary onClick={test} loading={testing} disabled={token.trim() === ''} data-testid="test-connection">
          Test connection
        </Button>
        <Button onClick={() => props.onSave(token.trim())} disabled={!canSave} data-testid="save-settings">
          Save
        </Button>
      </div>
      {current ? <TestOutcomeLine outcome={current} /> : <div class={styles.hint}>Save works once Test connection succeeds with these values.</div>}
      <button type="button" class={styles.linkButton} onClick={props.onPair} data-testid="use-pairing">
        Pair with the server instead
      </button>
    </div>
  );
}

function TestOutcomeLine({ outcome }: { outcome: TestOutcome }) {
  if (outcome.kind === 'ok') {
    const { info } = outcome;
    const model = info.model ? `${info.model.name} on ${info.model.provider}` : 'no model loaded yet';
    // Servers with tokens per designer say whose token it is (not yet in ServerInfo's type).
    const name = 'user' in info && typeof info.user === 'string' ? info.user : 'default';
    const user = name !== 'default' ? ` as ${name}` : '';
    return (
      <div class={styles.success} role="status" data-testid="test-outcome">
        Connected{user}: {info.server.name} {info.server.version}, {model}. {info.queue.waiting} waiting. Save to use it.
      </div>
    );
  }
  const text =
    outcome.kind === 'unreachable'
      ? 'Cannot reach the server at that address. Start it with npm start, or check the address.'
      : outcome.kind === 'token-rejected'
        ? 'Token rejected: check it with whoever gave it to you, or pair with the server instead.'
        : outcome.message;
  return (
    <div class={styles.problem} role="alert" data-testid="test-outcome">
      {text}
    </div>
  );
}
