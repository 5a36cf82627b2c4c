// Which addresses this build of the plugin can reach, and how to build it for another: Figma blocks
// every address missing from the manifest, with nothing but a network error to show for it.
import { h } from 'preact';
import { buildCommandFor, canReach, reachableServers } from '../connection/allowed-domains.ts';
import { parseServerAddress } from '../connection/server-address.ts';
import styles from './settings-panel.css';

export function ReachableServersNote(props: { serverUrl: string; domains?: readonly string[] }) {
  const servers = reachableServers(props.domains);
  if (servers.length === 0) return null;
  const address = parseServerAddress(props.serverUrl);
  const blocked = !('error' in address) && !canReach(address, props.domains);
  return (
    <div class={styles.note} data-testid="reachable-servers">
      {blocked ? (
        <div class={styles.warning} role="alert" data-testid="address-not-reachable">
          This build of the plugin cannot reach {address.httpBase}. Build it with that address: <code>{buildCommandFor(address)}</code>
        </div>
      ) : (
        <div>
          This build of the plugin can reach {servers.join(', ')}. For another server, build it with that address: <code>MGIE_TEAM_SERVER=https://your-server npm run build</code>
        </div>
      )}
    </div>
  );
}
