// First run and the gear button: where the server is and its token, with "Test connection".
import { Button, Text, Textbox, VerticalSpace } from '@create-figma-plugin/ui';
import { Fragment, h } from 'preact';
import { useState } from 'preact/hooks';
import type { PluginSettings } from '../../plugin/types.ts';
import type { ProbeResult } from '../connection/probe-server-async.ts';
import styles from '../styles.css';

type TestOutcome = ProbeResult | { kind: 'bad-address'; message: string };

export function SettingsPanel(props: {
  settings: PluginSettings;
  firstRun: boolean;
  onTest(serverUrl: string, token: string): Promise<TestOutcome>;
  onSave(change: Pick<PluginSettings, 'serverUrl' | 'token'>): void;
  onClose?(): void;
}) {
  const [serverUrl, setServerUrl] = useState(props.settings.serverUrl);
  const [token, setToken] = useState(props.settings.token);
  const [testing, setTesting] = useState(false);
  const [outcome, setOutcome] = useState<TestOutcome | undefined>(undefined);

  async function test() {
    setTesting(true);
    setOutcome(await props.onTest(serverUrl, token));
    setTesting(false);
  }

  return (
    <div id="settings-panel" data-testid="settings">
      {props.firstRun ? (
        <Fragment>
          <Text>
            <strong>Connect to the MGIE companion server</strong>
          </Text>
          <VerticalSpace space="small" />
          <div class={styles.muted}>
            Start it on this computer with <code>npm start</code> in the mgie-for-figma folder. Its banner shows where its token is (for
            example <code>cat ~/.config/mgie-for-figma/token</code>): paste it below. For a team GPU box, ask its admin for the address and
            token.
          </div>
          <VerticalSpace space="medium" />
        </Fragment>
      ) : null}
      <label class={styles.label} for="server-url">
        Server address
      </label>
      <Textbox id="server-url" value={serverUrl} onValueInput={setServerUrl} placeholder="http://localhost:8765" />
      <VerticalSpace space="small" />
      <label class={styles.label} for="server-token">
        Token
      </label>
      <Textbox id="server-token" value={token} onValueInput={setToken} password placeholder="Paste the server's token" />
      <VerticalSpace space="medium" />
      <div class={styles.row}>
        <Button secondary onClick={test} loading={testing} data-testid="test-connection">
          Test connection
        </Button>
        <Button onClick={() => props.onSave({ serverUrl: serverUrl.trim(), token: token.trim() })} disabled={token.trim() === ''} data-testid="save-settings">
          Save
        </Button>
        {props.onClose ? (
          <Button secondary onClick={props.onClose}>
            Close
          </Button>
        ) : null}
      </div>
      <VerticalSpace space="small" />
      {outcome ? <TestOutcomeLine outcome={outcome} /> : null}
    </div>
  );
}

function TestOutcomeLine({ outcome }: { outcome: TestOutcome }) {
  if (outcome.kind === 'ok') {
    const { info } = outcome;
    const model = info.model ? `${info.model.name} on ${info.model.provider}` : 'no model loaded yet';
    return (
      <div class={`${styles.muted} ${styles.ok}`} role="status" data-testid="test-outcome">
        Connected: {info.server.name} {info.server.version}, {model}. {info.queue.waiting} waiting.
      </div>
    );
  }
  const text =
    outcome.kind === 'unreachable'
      ? 'Cannot reach the server at that address. Start it with npm start, or check the address.'
      : outcome.kind === 'token-rejected'
        ? "Token rejected: paste the server's token (its start-up banner says where it is)."
        : outcome.message;
  return (
    <div class={`${styles.muted} ${styles.bad}`} role="alert" data-testid="test-outcome">
      {text}
    </div>
  );
}
