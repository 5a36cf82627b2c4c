import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ensureGeneratedBundleAsync } from '../../models/tiny/ensure-generated-bundle.ts';
import { TINY_BUNDLE_CONFIG } from '../../models/tiny/generated-bundle-config.ts';

/** The tiny bundle, generated if missing (npm test generates it before the tests start). */
export async function tinyBundleDirAsync(): Promise<string> {
  return (await ensureGeneratedBundleAsync(TINY_BUNDLE_CONFIG)).directory;
}

/** A throw-away copy of the tiny bundle, removed after the test. */
export async function copyTinyBundleAsync(t: TestContext): Promise<string> {
  const source = await tinyBundleDirAsync();
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-bundle-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(source, dir, { recursive: true });
  return dir;
}

/** Edits the manifest of a bundle copy in place. */
export async function editManifestAsync(dir: string, edit: (manifest: any) => void): Promise<void> {
  const file = path.join(dir, 'mgie-bundle.json');
  const manifest = JSON.parse(await readFile(file, 'utf8'));
  edit(manifest);
  await writeFile(file, JSON.stringify(manifest));
}
