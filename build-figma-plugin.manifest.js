// Amends the manifest that @create-figma-plugin/build writes from package.json's "figma-plugin" key.
// Figma lets the plugin reach only the hosts listed in networkAccess, so a team that runs the companion
// server on a shared GPU box builds the plugin with that box's address:
//   MGIE_TEAM_SERVER=https://gpu-box.example.com:8765 npm run build
// This adds the http(s) and ws(s) forms of that origin. Several servers: separate them with commas.
export default function addTeamServers(manifest) {
  const servers = (process.env.MGIE_TEAM_SERVER ?? '').split(',').map((value) => value.trim()).filter(Boolean);
  if (servers.length === 0) return manifest;
  const domains = new Set(manifest.networkAccess.allowedDomains);
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
  return { ...manifest, networkAccess: { ...manifest.networkAccess, allowedDomains: [...domains] } };
}
