// What resolving a request's token costs as users grow: every request compares its token's hash with
// every user's, in constant time. Prints microseconds per lookup; run with `npx tsx test/bench/user-token-bench.ts`.
import { randomBytes } from 'node:crypto';
import { findUserByToken, hashToken, type UserRecord } from '../../companion-server/server/user-tokens.ts';

for (const count of [1, 10, 100, 1000]) {
  const tokens = Array.from({ length: count }, () => randomBytes(32).toString('base64url'));
  const users: UserRecord[] = tokens.map((token, i) => ({ name: `user${i}`, tokenSha256: hashToken(token), created: new Date().toISOString() }));
  const lookups = Math.max(200, 200_000 / count);
  findUserByToken(users, tokens[0]); // decodes the stored hashes once, as the server does per reload
  const start = process.hrtime.bigint();
  for (let i = 0; i < lookups; i++) if (findUserByToken(users, tokens[i % count]) !== users[i % count]) throw new Error('lookup found the wrong user');
  const micros = Number(process.hrtime.bigint() - start) / 1000 / lookups;
  console.log(`${String(count).padStart(5)} users: ${micros.toFixed(1)} µs per token lookup`);
}
