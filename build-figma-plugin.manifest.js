// Amends the manifest that @create-figma-plugin/build writes from package.json's "figma-plugin" key.
// Figma lets the plugin reach only the hosts listed in networkAccess, so a team that runs the companion
// server on a shared GPU box builds the plugin with that box's address:
//   MGIE_TEAM_SERVER=https://gpu-box.example.com:8765 npm run build
// This adds the http(s) and ws(s) forms of that origin. Several servers: separate them with commas.
// build-figma-plugin.ui.js compiles the same list into the UI, whose settings show it.
export default function addTeamServers(manifest) {
  const allowedDomains = withTeamServers(manifest.networkAccess.allowedDomains, process.env.MGIE_TEAM_SERVER);
  return { ...manifest, networkAccess: { ...manifest.networkAccess, allowedDomains } };
}

/** The built-in domains plus the http(s) and ws(s) forms of each MGIE_TEAM_SERVER address. */
export function withTeamServers(builtIn, teamServers = '') {
  const servers = teamServers.split(',').map((value) => value.trim()).filter(Boolean);
  const domains = new Set(builtIn);
  for (const server of servers) {
    let url;
    try {
      url = new URL(server);
    } catch {
      throw new Error(`MGIE_TEAM_SERVER: "${server}" is not a URL. Write it like https://gpu-box.example.com:8765`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`MGIE_TEAM_SERVER: "${server}" must start with http:// or https://`);
    }
    const secure = url.protocol === 'https:';
    domains.add(`${url.protocol}//${url.host}`);
    domains.add(`${secure ? 'wss' : 'ws'}://${url.host}`);
  }
  return [...domains];
}
