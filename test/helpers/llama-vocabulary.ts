// LLaMA's SentencePiece model as llama-tokenizer-js ships it, for tests that run the exporter's tokenizer
// conversion (models/export/tokenizer_json.py) on the real 32,000-piece vocabulary.
//
// The package holds the vocabulary in id order and the merge list of the tokenizer.json that was
// distributed with LLaMA (its data-conversion.py copies both), not the pieces' scores. The merge derivation
// needs scores, and the package's data gives them, up to an order-preserving change, which is all a merge
// order depends on (llamaSentencePieces checks both facts on the data, and fails if either does not hold):
//   1. merges that do not build a whitespace-only piece come in the order of the id of the piece they build,
//      so a piece's score falls with its id: score = -id;
//   2. the 120 merges that build the 15 whitespace-only pieces ("▁▁" .. 16 × "▁") come last, sorted by
//      (left id, right id), the order a stable sort by score leaves pieces of EQUAL score in: they share
//      the lowest score. (LLaMA's tokenizer.model gives them -1e9; any score below every other works.)
// Kinds: id 0 <unk> is "unknown", 1-2 <s> </s> "control", 3-258 <0x00>..<0xFF> "byte", the rest "normal".
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaTokenizer } from 'llama-tokenizer-js';
import { MgieTokenizer } from '../../companion-server/engine/tokenizer.ts';

export type PieceKind = 'normal' | 'unknown' | 'control' | 'byte';
export type Piece = [piece: string, score: number, kind: PieceKind];

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PYTHON = process.env.PYTHON ?? 'python3';
/** The score the whitespace-only pieces share: below every other piece's. */
export const WHITESPACE_SCORE = -1e9;
/** LLaVA-7B v1's image tokens and MGIE's [IMG] tokens, at their checkpoint ids. */
export const ADDED_TOKEN_IDS: Record<string, number> = Object.fromEntries(
  ['<im_patch>', '<im_start>', '<im_end>', ...Array.from({ length: 8 }, (_, i) => `[IMG${i}]`)].map((token, i) => [token, 32000 + i]),
);

/** Image patches in the prompts of test/fixtures/llama-prompt-ids.json (256 in MGIE; fewer keep the file small). */
export const PROMPT_PATCHES = 4;

export interface LlamaVocabulary {
  /** llama-tokenizer-js's own encoder, over the same data. */
  reference: LlamaTokenizer;
  pieces: Piece[];
  /** The package's merges, in its order. */
  merges: [string, string][];
  /** How many merges build a whitespace-only piece (the last ones). */
  whitespaceMerges: number;
}

const isWhitespacePiece = (piece: string): boolean => piece.length > 1 && /^▁+$/.test(piece);

/** Throws when the package's data does not have the two properties the scores are recovered from. */
export function llamaSentencePieces(): LlamaVocabulary {
  const reference = new LlamaTokenizer();
  const vocab = reference.vocabById;
  const merges = [...reference.merges.entries()].sort((a, b) => a[1] - b[1]).map(([key]) => key.split(' ') as [string, string]);
  const idOf = (piece: string): number => reference.vocabByString.get(piece)!;
  const firstWhitespace = merges.findIndex(([left, right]) => isWhitespacePiece(left + right));
  const whitespace = merges.slice(firstWhitespace);
  if (firstWhitespace < 0 || !whitespace.every(([left, right]) => isWhitespacePiece(left + right))) {
    throw new Error('llama-tokenizer-js: the merges that build whitespace-only pieces are not the last ones');
  }
  const byPair = (a: [string, string], b: [string, string]): number => idOf(a[0]) - idOf(b[0]) || idOf(a[1]) - idOf(b[1]);
  if (whitespace.some((merge, i) => i > 0 && byPair(whitespace[i - 1], merge) > 0)) {
    throw new Error('llama-tokenizer-js: the whitespace merges are not in (left id, right id) order, so their scores are not one tie');
  }
  merges.slice(0, firstWhitespace).forEach(([left, right], i, all) => {
    if (i > 0 && idOf(left + right) < idOf(all[i - 1][0] + all[i - 1][1])) {
      throw new Error(`llama-tokenizer-js: merge ${i} (${left} ${right}) builds a piece with a lower id than merge ${i - 1}: scores do not follow ids`);
    }
  });
  const pieces = vocab.map((piece, id): Piece => {
    if (id === 0) return [piece, 0, 'unknown'];
    if (id <= 2) return [piece, 0, 'control'];
    if (id <= 258) {
      if (piece !== `<0x${(id - 3).toString(16).toUpperCase().padStart(2, '0')}>`) throw new Error(`llama-tokenizer-js: id ${id} is ${piece}, not a byte piece`);
      return [piece, 0, 'byte'];
    }
    return [piece, isWhitespacePiece(piece) ? WHITESPACE_SCORE : -id, 'normal'];
  });
  if (vocab.length !== 32000 || vocab[0] !== '<unk>' || vocab[1] !== '<s>' || vocab[2] !== '</s>') {
    throw new Error(`llama-tokenizer-js: ${vocab.length} pieces starting ${vocab.slice(0, 3).join(' ')}; expected LLaMA's 32000 starting <unk> <s> </s>`);
  }
  return { reference, pieces, merges, whitespaceMerges: whitespace.length };
}

function run(command: string, args: string[], input?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: input?.cwd ?? REPO, env: input?.env ?? process.env, timeout: 120_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Why tests that need python3 are skipped, or false. */
export async function pythonMissingAsync(): Promise<string | false> {
  const { code } = await run(PYTHON, ['--version']);
  return code === 0 ? false : `${PYTHON} is not installed`;
}

/** Why tests that need Python's sentencepiece and protobuf are skipped (source /work/hfenv/env.sh, or pip install), or false. */
export async function sentencePieceMissingAsync(): Promise<string | false> {
  const { code } = await run(PYTHON, ['-c', 'import sentencepiece; from sentencepiece import sentencepiece_model_pb2']);
  return code === 0 ? false : `${PYTHON} cannot import sentencepiece and its sentencepiece_model_pb2 (pip install sentencepiece protobuf)`;
}

export interface ConvertedTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  tokenizer: MgieTokenizer;
}

/** The exporter's conversion (python3 -m models.export.tokenizer_json, standard library only) of `pieces`. */
export async function convertWithExporterAsync(pieces: Piece[]): Promise<ConvertedTokenizer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-llama-vocabulary-'));
  try {
    await writeFile(path.join(dir, 'pieces.json'), JSON.stringify(pieces));
    await writeFile(path.join(dir, 'added_tokens.json'), JSON.stringify(ADDED_TOKEN_IDS));
    const out = path.join(dir, 'out');
    const { code, stderr } = await run(PYTHON, ['-m', 'models.export.tokenizer_json', '--pieces', path.join(dir, 'pieces.json'), '--added-tokens', path.join(dir, 'added_tokens.json'), '--out', out], {
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    if (code !== 0) throw new Error(`python3 -m models.export.tokenizer_json failed (exit ${code}): ${stderr}`);
    const tokenizerJson = JSON.parse(await readFile(path.join(out, 'tokenizer.json'), 'utf8'));
    const tokenizerConfig = JSON.parse(await readFile(path.join(out, 'tokenizer_config.json'), 'utf8'));
    return { tokenizerJson, tokenizerConfig, tokenizer: MgieTokenizer.fromJson(tokenizerJson, tokenizerConfig) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SentencePieceRun {
  /** SentencePiece's own encoding of each string, BOS first (the slow tokenizer's ids for text without added tokens). */
  ids: number[][];
  /** token_parity.DemoSlowTokenizer's ids of the MGIE prompt for each instruction, stripped as Python strips. */
  promptIds: number[][];
  /** tokenizer.json written by load_checkpoints.prepare_tokenizer_dir from the same model, as a file. */
  tokenizerJson: Record<string, unknown>;
}

/**
 * Writes `pieces` as a SentencePiece model file (tokenizer.model with LLaMA's settings) and runs, in Python,
 * SentencePiece itself, the reference's slow-tokenizer replay and the exporter's prepare_tokenizer_dir on it
 * (test/helpers/sentencepiece-run.py). Needs sentencepiece + protobuf, and torch for token_parity.
 */
export async function runSentencePieceAsync(pieces: Piece[], strings: string[], instructions: string[], numPatches = PROMPT_PATCHES): Promise<SentencePieceRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-sentencepiece-'));
  try {
    const input = path.join(dir, 'input.json');
    await writeFile(input, JSON.stringify({ pieces, addedTokens: ADDED_TOKEN_IDS, strings, instructions, numPatches }));
    const { code, stderr } = await run(PYTHON, [path.join(REPO, 'test/helpers/sentencepiece-run.py'), input, dir], {
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    if (code !== 0) throw new Error(`test/helpers/sentencepiece-run.py failed (exit ${code}): ${stderr}`);
    const output = JSON.parse(await readFile(path.join(dir, 'output.json'), 'utf8'));
    const tokenizerJson = JSON.parse(await readFile(path.join(dir, 'tokenizer', 'tokenizer.json'), 'utf8'));
    return { ids: output.ids, promptIds: output.promptIds, tokenizerJson };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
