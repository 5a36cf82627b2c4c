// The engine's only use of @huggingface/tokenizers (tokenizers.js): loads a Hugging Face
// tokenizer.json + tokenizer_config.json and gives ids the way transformers' fast tokenizer does.
import { Tokenizer } from '@huggingface/tokenizers';
import { MgieError } from './errors.ts';

export interface EncodeOptions {
  /** Start with the BOS token (default true, as the MGIE prompt is tokenised). */
  addBos?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, image and IMG tokens). Default false: the raw text. */
  skipSpecialTokens?: boolean;
}

export class MgieTokenizer {
  readonly bosId: number;
  /** The text of every added token (<unk>, <s>, </s>, <im_patch>, ..., [IMG7]): encode turns it into that token. */
  readonly addedTokens: readonly string[];
  readonly #tokenizer: Tokenizer;
  readonly #vocabSize: number;

  private constructor(tokenizer: Tokenizer, bosId: number, addedTokens: readonly string[]) {
    this.#tokenizer = tokenizer;
    this.bosId = bosId;
    this.addedTokens = addedTokens;
    // Ids run from 0 to the highest added token (32010 in MGIE): the embedding's row count.
    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.#vocabSize = maxId + 1;
  }

  /** Throws an MgieError (MGIE_ERR_BUNDLE_TOKENIZER) naming what is wrong, with the library's error as cause. */
  static fromJson(tokenizerJson: unknown, tokenizerConfig: unknown): MgieTokenizer {
    const invalid = (file: string, what: string, cause?: unknown): MgieError =>
      new MgieError('MGIE_ERR_BUNDLE_TOKENIZER', `The ${file} is invalid: ${what}. Re-export the tokenizer with Hugging Face tokenizers.`, { cause });
    if (!isObject(tokenizerJson)) throw invalid('tokenizer.json', 'it is not a JSON object');
    if (!isObject(tokenizerJson.model)) throw invalid('tokenizer.json', 'it has no "model" object');
    if (!Array.isArray(tokenizerJson.added_tokens)) throw invalid('tokenizer.json', 'it has no "added_tokens" list');
    if (!isObject(tokenizerConfig)) throw invalid('tokenizer_config.json', 'it is not a JSON object');
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
      // Some defects only show when the pipeline runs: find them at load, not at the first edit.
      tokenizer.decode(tokenizer.encode('A b.', { add_special_tokens: false }).ids);
    } catch (cause) {
      throw invalid('tokenizer.json', (cause as Error)?.message ?? String(cause), cause);
    }
    const bosToken = tokenContent(tokenizerConfig.bos_token);
    const bosId = bosToken === undefined ? undefined : tokenizer.token_to_id(bosToken);
    if (bosId === undefined) {
      throw invalid('tokenizer_config.json', `its bos_token (${JSON.stringify(tokenizerConfig.bos_token)}) is not a token of tokenizer.json`);
    }
    const addedTokens = tokenizerJson.added_tokens.map((entry) => (isObject(entry) ? entry.content : undefined)).filter((content): content is string => typeof content === 'string');
    return new MgieTokenizer(tokenizer, bosId, addedTokens);
  }

  /**
   * Added tokens in the text (such as <im_patch> and [IMG0]) become their single ids. The BOS is
   * prepended here rather than by the post-processor, so it is there exactly once whether or not
   * the tokenizer.json has a template, and not doubled when the text already starts with it.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const { addBos = true } = options;
    const ids = this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
    return addBos && ids[0] !== this.bosId ? [this.bosId, ...ids] : ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    // tokenizers.js refuses an empty list; transformers gives "". Space clean-up follows
    // tokenizer_config.json's clean_up_tokenization_spaces (true when absent, as in transformers 4.x).
    if (ids.length === 0) return '';
    return this.#tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.#tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0) return undefined;
    return this.#tokenizer.id_to_token(id);
  }

  /** Number of ids, added tokens included (32011 for MGIE). */
  get vocabSize(): number {
    return this.#vocabSize;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** transformers writes special tokens in tokenizer_config.json as a string or as an AddedToken object. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  return undefined;
}
