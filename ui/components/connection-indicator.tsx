import { IconButton, IconSettingsSmall24 } from '@create-figma-plugin/ui';
import { h } from 'preact';
import type { ConnectionStatus } from '../connection/companion-connection.ts';
import { describeConnection } from '../describe-problem.ts';
import styles from '../styles.css';

const DOT_CLASS: Record<ConnectionStatus['state'], string> = {
  connecting: styles.dotConnecting,
  connected: styles.dotConnected,
  unreachable: styles.dotProblem,
  'token-rejected': styles.dotProblem,
  forbidden: styles.dotProblem,
  incompatible: styles.dotProblem,
};

export function Header(props: { connection: ConnectionStatus | undefined; onSettings(): void; settingsOpen: boolean }) {
  const { connection } = props;
  const label = connection === undefined ? 'Not set up' : describeConnection(connection);
  return (
    <div class={styles.header}>
      <div class={styles.status} role="status" aria-live="polite" data-testid="connection" data-state={connection?.state ?? 'not-configured'}>
        <span class={`${styles.dot} ${connection ? DOT_CLASS[connection.state] : ''}`} aria-hidden="true" />
        <span>{label}</span>
      </div>
      <IconButton onClick={props.onSettings} title={props.settingsOpen ? 'Close settings' : 'Server settings'} aria-label="Server settings" aria-pressed={props.settingsOpen}>
        <IconSettingsSmall24 />
      </IconButton>
    </div>
  );
}
