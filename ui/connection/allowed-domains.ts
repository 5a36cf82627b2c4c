// Which servers this build of the plugin can reach. Figma blocks every address missing from the
// manifest's networkAccess.allowedDomains, and the plugin cannot read its manifest at run time, so
// build-figma-plugin.ui.js compiles the same list in.
import type { ServerAddress } from './server-address.ts';

declare const __MGIE_ALLOWED_DOMAINS__: readonly string[];

/** This build's allowedDomains; empty when built without build-figma-plugin.ui.js (nothing to say then). */
export const ALLOWED_DOMAINS: readonly string[] = typeof __MGIE_ALLOWED_DOMAINS__ === 'undefined' ? [] : __MGIE_ALLOWED_DOMAINS__;

/** The http(s) origins among the domains, as a designer would type them ("http://localhost:8765"). */
export function reachableServers(domains: readonly string[] = ALLOWED_DOMAINS): string[] {
  return domains.filter((domain) => /^https?:\/\//i.test(domain));
}

/** False when Figma would block the address: neither its origin nor "*" is allowed. */
export function canReach(address: ServerAddress, domains: readonly string[] = ALLOWED_DOMAINS): boolean {
  if (domains.length === 0 || domains.includes('*')) return true;
  const origin = originOf(address.httpBase);
  return domains.some((domain) => originOf(domain) === origin);
}

/** The command that builds the plugin for this address (build-figma-plugin.manifest.js). */
export function buildCommandFor(address: ServerAddress): string {
  return `MGIE_TEAM_SERVER=${originOf(address.httpBase) ?? address.httpBase} npm run build`;
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
