// Compiles into the UI the addresses this build of the plugin may reach (the manifest's
// networkAccess.allowedDomains: package.json's list plus MGIE_TEAM_SERVER), so that the settings can
// say which servers work and how to build for another. Figma offers no way to read the manifest at run time.
import { readFileSync } from 'node:fs';
import { withTeamServers } from './build-figma-plugin.manifest.js';

export default function defineAllowedDomains(buildOptions) {
  const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
  const domains = withTeamServers(pkg['figma-plugin'].networkAccess.allowedDomains, process.env.MGIE_TEAM_SERVER);
  return { ...buildOptions, define: { ...buildOptions.define, __MGIE_ALLOWED_DOMAINS__: JSON.stringify(domains) } };
}
