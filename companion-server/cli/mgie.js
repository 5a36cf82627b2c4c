#!/usr/bin/env node
// The `mgie` command. The sources are TypeScript, run through tsx's loader (a dependency).
// Plain JavaScript up to the version check, so an old Node gets this sentence rather than a stack trace.
const MIN_NODE_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);
if (major < MIN_NODE_MAJOR) {
  process.stderr.write(
    `mgie: needs Node ${MIN_NODE_MAJOR} or newer; this is Node ${process.versions.node}. Install a current LTS from https://nodejs.org (or with nvm: nvm install 22) and run again.\n`,
  );
  process.exit(1);
}
const { restartWithMallocTunables } = await import('./restart-with-malloc-tunables.js');
restartWithMallocTunables();
const { register } = await import('tsx/esm/api');
register();
await import('./mgie-cli.ts');
