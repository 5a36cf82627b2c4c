#!/usr/bin/env node
// The `mgie` command. The sources are TypeScript, run through tsx's loader (a dependency).
import { register } from 'tsx/esm/api';

register();
await import('./mgie-cli.ts');
