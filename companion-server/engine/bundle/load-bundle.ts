// Loads a format-1 bundle: every check models/BUNDLE-FORMAT.md lists, then one session per model,
// created once and reused for every edit.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMgieError, MgieError } from '../errors.ts';
import { type ExecutionOptions, ModelSession } from '../onnx-runtime.ts';
import { chooseExecutionProviderAsync, type ProviderNotChosen } from '../providers/choose-execution-provider-async.ts';
import type { ProviderProbe } from '../providers/probe-providers-async.ts';
import type { ConcreteProvider } from '../providers/provider-names.ts';
import { createScheduler } from '../schedulers/scheduler.ts';
import { MgieTokenizer } from '../tokenizer.ts';
import { type BundleManifest, MANIFEST_FILE, MODEL_KEYS, type ModelKey, parseBundleManifest } from './bundle-manifest.ts';
import { checkModelContract, modelContracts } from './model-contracts.ts';

export interface LoadBundleOptions extends ExecutionOptions {
  /** Hash every file listed in the manifest's sha256 (default true; takes seconds on a 7B bundle). */
  verifyChecksums?: boolean;
  /** Which providers run here; default: probe this machine once (tests pass their own). */
  probeProviders?: () => Promise<ProviderProbe[]>;
}

export interface TokenIds {
  bos: number;
  eos: number;
  imPatch: number;
  imStart: number;
  imEnd: number;
  img: number[];
}

export interface LoadedBundle {
  directory: string;
  manifest: BundleManifest;
  sessions: Record<ModelKey, ModelSession>;
  tokenizer: MgieTokenizer;
  tokenIds: TokenIds;
  /** Bytes of all files in the bundle folder (weights dominate). */
  totalBytes: number;
  /** The provider the sessions run on (`auto` resolved). */
  executionProvider: ConcreteProvider;
  /** What was asked for, what runs, and why each other GPU provider does not: for the banner and /v1/info. */
  providers: { requested: string; chosen: ConcreteProvider; notChosen: ProviderNotChosen[] };
  loadMilliseconds: number;
  /** Part of loadMilliseconds spent hashing files against the manifest's sha256 (0 when not verified). */
  checksumMilliseconds: number;
  releaseAsync(): Promise<void>;
}

export async function loadBundleAsync(directory: string, options: LoadBundleOptions = {}): Promise<LoadedBundle> {
  const started = performance.now();
  const dir = path.resolve(directory);
  const manifest = await readBundleManifestAsync(dir);

  // 1. every file present, and its checksum where the manifest gives one
  const tokenizerConfigFile = manifest.tokenizerConfig ?? 'tokenizer_config.json';
  const requiredFiles = [...MODEL_KEYS.map((key) => manifest.files[key]), manifest.files.tokenizer, tokenizerConfigFile];
  for (const file of requiredFiles) await requireFileAsync(dir, file);
  const checksumsStarted = performance.now();
  if (options.verifyChecksums !== false) {
    for (const [file, expected] of Object.entries(manifest.sha256 ?? {})) await verifyChecksumAsync(dir, file, expected);
  }
  const checksumMilliseconds = performance.now() - checksumsStarted;

  // 2. the scheduler config, so a bad one fails now and not at the first edit
  try {
    createScheduler(manifest.diffusion.scheduler.type as Parameters<typeof createScheduler>[0], manifest.diffusion.scheduler, 1);
  } catch (cause) {
    throw new MgieError('MGIE_ERR_BUNDLE_MANIFEST', `${path.join(dir, MANIFEST_FILE)}: diffusion.scheduler is not usable: ${(cause as Error).message}`, { cause });
  }

  // 3. the tokenizer, holding every token the manifest names
  const { tokenizer, tokenIds } = await loadManifestTokenizerAsync(dir, manifest);

  // 4. one session per model, each checked against its contract, on the first provider that runs them
  const choice = await chooseExecutionProviderAsync(options.executionProvider ?? 'cpu', options.probeProviders);
  const notChosen = [...choice.notChosen];
  let loaded: { provider: ConcreteProvider; sessions: Record<ModelKey, ModelSession> } | undefined;
  for (const [index, provider] of choice.candidates.entries()) {
    try {
      loaded = { provider, sessions: await createSessionsAsync(dir, manifest, { ...options, executionProvider: provider }) };
      break;
    } catch (error) {
      // `auto` moves on when a GPU provider starts but cannot run this bundle (an operator it lacks,
      // too little GPU memory); a defect of the bundle itself fails on every provider, so it stops here.
      const last = index === choice.candidates.length - 1;
      if (last || !isMgieError(error, 'MGIE_ERR_PROVIDER_UNAVAILABLE')) throw error;
      notChosen.push({ name: provider, reason: `could not run this bundle (${error.message})` });
    }
  }
  const { provider, sessions } = loaded!;
  const ranked = choice.candidates.slice(choice.candidates.indexOf(provider) + 1).filter((p) => p !== 'cpu');
  for (const name of ranked) notChosen.push({ name, reason: `runs here, but ${provider} comes first` });

  return {
    directory: dir,
    manifest,
    sessions,
    tokenizer,
    tokenIds,
    totalBytes: await folderBytesAsync(dir),
    executionProvider: provider,
    providers: { requested: choice.requested, chosen: provider, notChosen },
    loadMilliseconds: performance.now() - started,
    checksumMilliseconds,
    async releaseAsync() {
      await Promise.all(Object.values(sessions).map((s) => s.releaseAsync()));
    },
  };
}

async function createSessionsAsync(dir: string, manifest: BundleManifest, options: ExecutionOptions): Promise<Record<ModelKey, ModelSession>> {
  const contracts = modelContracts(manifest);
  const sessions = {} as Record<ModelKey, ModelSession>;
  try {
    for (const key of MODEL_KEYS) {
      const file = manifest.files[key];
      const session = await ModelSession.createAsync(file, path.join(dir, file), options, { foldKeyTransposes: key === 'decoder' });
      sessions[key] = session;
      checkModelContract(file, contracts[key], session.inputs, session.outputs);
    }
  } catch (error) {
    await Promise.all(Object.values(sessions).map((s) => s.releaseAsync()));
    throw error;
  }
  return sessions;
}

/**
 * The manifest and tokenizer alone, without the models (e.g. to check the tokenizer against the ids the
 * exporter's Python tokenizer produced, without loading gigabytes of weights).
 */
export async function loadBundleTokenizerAsync(directory: string): Promise<{ manifest: BundleManifest; tokenizer: MgieTokenizer; tokenIds: TokenIds }> {
  const dir = path.resolve(directory);
  const manifest = await readBundleManifestAsync(dir);
  return { manifest, ...(await loadManifestTokenizerAsync(dir, manifest)) };
}

async function loadManifestTokenizerAsync(dir: string, manifest: BundleManifest): Promise<{ tokenizer: MgieTokenizer; tokenIds: TokenIds }> {
  const tokenizer = await loadTokenizerAsync(dir, manifest.files.tokenizer, manifest.tokenizerConfig ?? 'tokenizer_config.json');
  return { tokenizer, tokenIds: resolveTokenIds(manifest, tokenizer, manifest.files.tokenizer) };
}

/** The bundle's manifest alone, checked: what an edit's parameters are resolved against, before any model loads. */
export async function readBundleManifestAsync(dir: string): Promise<BundleManifest> {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new MgieError('MGIE_ERR_BUNDLE_NOT_FOUND', `No bundle folder at ${dir}. Pass --bundle with a folder made by the exporter, or omit it to use the tiny demo bundle.`);
  }
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    throw new MgieError('MGIE_ERR_BUNDLE_NOT_FOUND', `${dir} has no ${MANIFEST_FILE}, so it is not a model bundle. Point to the folder the exporter wrote (models/README.md).`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new MgieError('MGIE_ERR_BUNDLE_MANIFEST', `${manifestPath} is not valid JSON (${(cause as Error).message}). Re-export the bundle.`, { cause });
  }
  return parseBundleManifest(raw, manifestPath);
}

export async function requireFileAsync(dir: string, file: string): Promise<void> {
  const resolved = path.resolve(dir, file);
  if (path.dirname(resolved) !== dir && !resolved.startsWith(dir + path.sep)) {
    throw new MgieError('MGIE_ERR_BUNDLE_MANIFEST', `${path.join(dir, MANIFEST_FILE)}: file "${file}" points outside the bundle folder.`);
  }
  const info = await stat(resolved).catch(() => null);
  if (!info?.isFile()) {
    throw new MgieError('MGIE_ERR_BUNDLE_MISSING_FILE', `The bundle at ${dir} is missing ${file}, which its manifest lists. Copy the whole bundle folder again or re-export it.`);
  }
}

export async function verifyChecksumAsync(dir: string, file: string, expected: string): Promise<void> {
  await requireFileAsync(dir, file);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path.join(dir, file), { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  if (actual !== expected.toLowerCase()) {
    throw new MgieError(
      'MGIE_ERR_BUNDLE_CHECKSUM',
      `${path.join(dir, file)} does not match its sha256 in the manifest (expected ${expected}, got ${actual}): the file is damaged or from another export. Copy it again or re-export the bundle.`,
    );
  }
}

async function loadTokenizerAsync(dir: string, tokenizerFile: string, configFile: string): Promise<MgieTokenizer> {
  const readJson = async (file: string): Promise<unknown> => {
    try {
      return JSON.parse(await readFile(path.join(dir, file), 'utf8'));
    } catch (cause) {
      throw new MgieError('MGIE_ERR_BUNDLE_TOKENIZER', `${path.join(dir, file)} is not valid JSON (${(cause as Error).message}). Re-export the bundle.`, { cause });
    }
  };
  const [json, config] = [await readJson(tokenizerFile), await readJson(configFile)];
  try {
    return MgieTokenizer.fromJson(json, config);
  } catch (cause) {
    throw new MgieError('MGIE_ERR_BUNDLE_TOKENIZER', `${path.join(dir, tokenizerFile)}: ${(cause as Error).message}`, { cause });
  }
}

/** Every token the manifest names must be one id in the tokenizer, inside the decoder's vocabulary. */
function resolveTokenIds(manifest: BundleManifest, tokenizer: MgieTokenizer, tokenizerFile: string): TokenIds {
  const idOf = (token: string, field: string): number => {
    const id = tokenizer.tokenToId(token);
    if (id === undefined) {
      throw new MgieError('MGIE_ERR_BUNDLE_TOKENIZER', `${tokenizerFile} has no token "${token}" (manifest tokens.${field}). Export the tokenizer with MGIE's added tokens.`);
    }
    if (id >= manifest.llm.vocabSize) {
      throw new MgieError('MGIE_ERR_BUNDLE_TOKENIZER', `${tokenizerFile}: token "${token}" has id ${id}, outside the decoder's vocabulary of ${manifest.llm.vocabSize} (llm.vocabSize).`);
    }
    return id;
  };
  const { tokens } = manifest;
  return {
    bos: idOf(tokens.bos, 'bos'),
    eos: idOf(tokens.eos, 'eos'),
    imPatch: idOf(tokens.imPatch, 'imPatch'),
    imStart: idOf(tokens.imStart, 'imStart'),
    imEnd: idOf(tokens.imEnd, 'imEnd'),
    img: tokens.img.map((token, i) => idOf(token, `img[${i}]`)),
  };
}

export async function folderBytesAsync(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(path.join(dir, entry.name))).size;
  }
  return total;
}
