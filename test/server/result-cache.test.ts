import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ResultCache } from '../../companion-server/server/result-cache.ts';

async function withDirAsync(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-cache-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const parts = {
  image: new Uint8Array([1, 2, 3, 4]),
  instruction: 'make it snowy',
  parameters: { steps: 20, guidance: { text: 7.5, image: 1.5 } },
  seed: 42,
  model: 'mgie-7b',
};

test('keyOf is stable regardless of parameter key order, and changes with any input', () => {
  const key = ResultCache.keyOf(parts);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(ResultCache.keyOf({ ...parts, parameters: { guidance: { image: 1.5, text: 7.5 }, steps: 20 } }), key);
  assert.notEqual(ResultCache.keyOf({ ...parts, seed: 43 }), key);
  assert.notEqual(ResultCache.keyOf({ ...parts, instruction: 'make it sunny' }), key);
  assert.notEqual(ResultCache.keyOf({ ...parts, model: 'mgie-13b' }), key);
  assert.notEqual(ResultCache.keyOf({ ...parts, image: new Uint8Array([1, 2, 3, 5]) }), key);
  assert.notEqual(ResultCache.keyOf({ ...parts, parameters: { ...parts.parameters, steps: 21 } }), key);
});

test('round trip', () =>
  withDirAsync(async (dir) => {
    const cache = new ResultCache({ dir: path.join(dir, 'results'), maxBytes: 1_000_000 });
    const key = ResultCache.keyOf(parts);
    assert.equal(await cache.getAsync(key), undefined);
    assert.equal(await cache.setAsync(key, Buffer.from('png-bytes'), { width: 4, steps: 20 }), true);
    const hit = await cache.getAsync(key);
    assert.deepEqual(hit, { png: Buffer.from('png-bytes'), meta: { width: 4, steps: 20 } });
    assert.equal(await cache.getAsync('../../etc/passwd'), undefined);
    assert.equal(await cache.setAsync('../escape', Buffer.from('x'), {}), false);
  }));

test('evicts least recently used entries (by mtime, touched on get) until under maxBytes', () =>
  withDirAsync(async (dir) => {
    const png = Buffer.alloc(1000);
    const entryBytes = png.length + JSON.stringify({ bytes: png.length, meta: {} }).length;
    const cache = new ResultCache({ dir, maxBytes: entryBytes * 2 });
    const [a, b, c] = [1, 2, 3].map((seed) => ResultCache.keyOf({ ...parts, seed }));
    assert.equal(await cache.setAsync(a, png, {}), true);
    assert.equal(await cache.setAsync(b, png, {}), true);
    // Make the order explicit rather than relying on mtime resolution: a older than b.
    const old = Date.now() / 1000 - 100;
    for (const ext of ['png', 'json']) {
      await utimes(path.join(dir, `${a}.${ext}`), old, old);
      await utimes(path.join(dir, `${b}.${ext}`), old + 50, old + 50);
    }
    assert.ok(await cache.getAsync(a)); // a becomes most recently used
    assert.equal(await cache.setAsync(c, png, {}), true);
    assert.ok(await cache.getAsync(a));
    assert.equal(await cache.getAsync(b), undefined, 'b was least recently used');
    assert.ok(await cache.getAsync(c));
    assert.equal((await readdir(dir)).length, 4);
    // An entry bigger than the whole cache is refused, leaving the others alone.
    assert.equal(await cache.setAsync(b, Buffer.alloc(entryBytes * 3), {}), false);
    assert.ok(await cache.getAsync(a));
  }));

test('a corrupt or half-missing entry is a miss and is deleted', () =>
  withDirAsync(async (dir) => {
    const cache = new ResultCache({ dir, maxBytes: 1_000_000 });
    const [a, b, c] = [1, 2, 3].map((seed) => ResultCache.keyOf({ ...parts, seed }));
    for (const key of [a, b, c]) await cache.setAsync(key, Buffer.from('png-bytes'), { ok: true });
    await writeFile(path.join(dir, `${a}.json`), '{not json');
    await rm(path.join(dir, `${b}.json`));
    await writeFile(path.join(dir, `${c}.png`), 'png'); // truncated
    for (const key of [a, b, c]) assert.equal(await cache.getAsync(key), undefined);
    assert.deepEqual(await readdir(dir), []);
  }));

test('an unwritable cache folder never throws: set returns false, get misses', () =>
  withDirAsync(async (dir) => {
    // A file where the folder should be (permission bits do not stop root, this does).
    const blocked = path.join(dir, 'blocked');
    await writeFile(blocked, 'not a folder');
    const cache = new ResultCache({ dir: path.join(blocked, 'results'), maxBytes: 1_000_000 });
    const key = ResultCache.keyOf(parts);
    assert.equal(await cache.setAsync(key, Buffer.from('png-bytes'), {}), false);
    assert.equal(await cache.getAsync(key), undefined);
  }));

const posix = process.platform !== 'win32';
const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

/** Runs with the common umask 022, under which plain mkdir/writeFile give 755/644. */
async function withUmaskAsync(run: () => Promise<void>): Promise<void> {
  const saved = process.umask(0o022);
  try {
    await run();
  } finally {
    process.umask(saved);
  }
}

test('the cache holds designers\' images and instructions: folders it creates are 0700, its files 0600', { skip: !posix }, () =>
  withDirAsync((dir) =>
    withUmaskAsync(async () => {
      const cache = new ResultCache({ dir: path.join(dir, 'mgie-for-figma', 'results'), maxBytes: 1_000_000 });
      const key = ResultCache.keyOf(parts);
      assert.equal(await cache.setAsync(key, Buffer.from('png-bytes'), { width: 4 }), true);
      assert.equal(await modeOf(path.join(dir, 'mgie-for-figma')), 0o700);
      assert.equal(await modeOf(cache.dir), 0o700);
      for (const name of await readdir(cache.dir)) assert.equal(await modeOf(path.join(cache.dir, name)), 0o600, name);
    }),
  ));

test('prepareAsync makes a new folder 0700, and tightens a looser existing one and its files, saying so', { skip: !posix }, () =>
  withDirAsync((dir) =>
    withUmaskAsync(async () => {
      const fresh = new ResultCache({ dir: path.join(dir, 'fresh') });
      assert.equal(await fresh.prepareAsync(), undefined);
      assert.equal(await modeOf(fresh.dir), 0o700);

      // What an older version left behind: 755 and 644.
      const old = path.join(dir, 'old');
      await mkdir(old);
      await chmod(old, 0o755);
      const entry = path.join(old, `${'a'.repeat(64)}.png`);
      await writeFile(entry, 'png');
      await chmod(entry, 0o644);
      const cache = new ResultCache({ dir: old });
      assert.match((await cache.prepareAsync()) ?? '', /was readable by other users; it is now 0700 and its files 0600/);
      assert.equal(await modeOf(old), 0o700);
      assert.equal(await modeOf(entry), 0o600);
      assert.equal(await cache.prepareAsync(), undefined, 'nothing more to say once private');
    }),
  ));
