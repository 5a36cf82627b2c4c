// What `mgie doctor` says about a bundle without loading its models (seconds, not minutes, and no
// GPU memory for a 7B): the manifest, every file present, every checksum, the sizes, the precision.
import path from 'node:path';
import { MODEL_KEYS, type BundleManifest } from './bundle-manifest.ts';
import { folderBytesAsync, readBundleManifestAsync, requireFileAsync, verifyChecksumAsync } from './load-bundle.ts';

export interface BundleInspection {
  manifest: BundleManifest;
  totalBytes: number;
  fileCount: number;
  /** Files the manifest gives a sha256 for, all of which matched (else inspectBundleAsync throws). */
  checkedFiles: number;
  /** `float32`, `float16` or `mixed` where the manifest records it. */
  precision: string | undefined;
}

/** Throws the loader's own MgieError (which says what to do) at the first problem. */
export async function inspectBundleAsync(directory: string): Promise<BundleInspection> {
  const dir = path.resolve(directory);
  const manifest = await readBundleManifestAsync(dir);
  const files = [...MODEL_KEYS.map((key) => manifest.files[key]), manifest.files.tokenizer, manifest.tokenizerConfig ?? 'tokenizer_config.json'];
  for (const file of files) await requireFileAsync(dir, file);
  const checksums = Object.entries(manifest.sha256 ?? {});
  for (const [file, expected] of checksums) await verifyChecksumAsync(dir, file, expected);
  return {
    manifest,
    totalBytes: await folderBytesAsync(dir),
    fileCount: files.length,
    checkedFiles: checksums.length,
    precision: manifest.export?.precision,
  };
}
