// What the settings say about the addresses this build reaches: the same matching Figma applies to
// networkAccess.allowedDomains (origin for origin), and the build command for an address it does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildCommandFor, canReach, reachableServers } from '../../ui/connection/allowed-domains.ts';
import { parseServerAddress, type ServerAddress } from '../../ui/connection/server-address.ts';
import { withTeamServers } from '../../build-figma-plugin.manifest.js';

const BUILT_IN = ['http://localhost:8765', 'ws://localhost:8765', 'http://127.0.0.1:8765', 'ws://127.0.0.1:8765'];

function address(text: string): ServerAddress {
  const parsed = parseServerAddress(text);
  assert.ok(!('error' in parsed), text);
  return parsed;
}

test('an address is reachable when its origin is in the list, whatever path or spelling the designer used', () => {
  assert.equal(canReach(address('localhost:8765'), BUILT_IN), true);
  assert.equal(canReach(address('http://LOCALHOST:8765/'), BUILT_IN), true);
  assert.equal(canReach(address('ws://127.0.0.1:8765'), BUILT_IN), true);
  assert.equal(canReach(address('http://localhost:9000'), BUILT_IN), false, 'another port');
  assert.equal(canReach(address('https://localhost:8765'), BUILT_IN), false, 'another scheme');
  assert.equal(canReach(address('https://gpu-box.example.com/mgie'), ['*']), true);
  assert.equal(canReach(address('http://anything:1'), []), true, 'a build without the list says nothing');
});

test('a team build (MGIE_TEAM_SERVER) reaches its box; the settings show http(s) entries only, and the command for a missing one', () => {
  const team = withTeamServers(BUILT_IN, 'https://gpu-box.example.com');
  assert.equal(canReach(address('https://gpu-box.example.com/mgie'), team), true);
  assert.deepEqual(reachableServers(team), ['http://localhost:8765', 'http://127.0.0.1:8765', 'https://gpu-box.example.com']);
  assert.equal(buildCommandFor(address('http://localhost:9000/some/path')), 'MGIE_TEAM_SERVER=http://localhost:9000 npm run build');
});
