// Types for build-figma-plugin.manifest.js, which the build tool loads as plain JavaScript.
export default function addTeamServers<T extends { networkAccess: { allowedDomains: string[] } }>(manifest: T): T;
export function withTeamServers(builtIn: readonly string[], teamServers?: string): string[];
