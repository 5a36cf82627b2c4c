// A LLaMA-style BPE tokenizer at small scale for the generated test bundle: the same tokenizer.json
// structure that transformers' LlamaConverter writes for the LLaMA-1 tokenizer LLaVA-7B v1 uses
// (byte fallback, "▁" word marker, BOS by template), with MGIE's added tokens at the end of the
// vocabulary as in the LLaVA checkpoint (32000-32010 there, base+0..base+10 here). The pieces are
// learned by a small deterministic BPE trainer over a built-in English corpus of MGIE prompts and answers.

export interface TinyTokenizerOptions {
  /** Base vocabulary before the 11 MGIE added tokens: 3 specials + 256 bytes + learned pieces + characters. */
  vocabSize?: number;
  /**
   * true (default): the LLaMA-1 "legacy" layout (normalizer Prepend + Replace, no pre-tokenizer), as in
   * the real LLaVA tokenizer; it puts an extra "▁" at the start of every text section that follows an
   * added token, so " ASSISTANT:" after <im_end> decodes back with two spaces (in Rust and JS alike).
   * false: the non-legacy layout of current transformers (Metaspace pre-tokenizer, prepend_scheme
   * "first"), whose encode→decode round trip is exact. Both use the same vocabulary and merges.
   */
  legacy?: boolean;
}

export interface TinyTokenizer {
  tokenizerJson: object;
  tokenizerConfig: object;
  /** All ids, added tokens included: the row count the embedding and lm_head need. */
  vocabSize: number;
  /** Id of every added token, by content: <unk>, <s>, </s>, <im_patch>, <im_start>, <im_end>, [IMG0]..[IMG7]. */
  specialTokenIds: Record<string, number>;
}

/** The test instructions of the reference demo (apple/ml-mgie demo.ipynb). */
export const DEMO_INSTRUCTIONS: readonly string[] = [
  'make the frame red', 'turn the day into night', 'give him a beard', 'make cottage a mansion',
  'remove yellow object from dogs paws', 'change the hair from red to blue', 'remove the text', 'increase the image contrast',
  'remove the people in the background', 'please make this photo professional looking', 'darken the image, sharpen it', 'photoshop the girl out',
  'make more brightness', 'take away the brown filter form the image', 'add more contrast to simulate more light', 'dark on rgb',
  'make the face happy', 'change view as ocean', 'replace basketball with soccer ball', 'let the floor be made of wood',
];

const SYSTEM_PROMPT =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

// Answers of the kind MGIE gives (a short expressive instruction), two per demo instruction and a few more.
const EXPRESSIVE_INSTRUCTIONS: readonly string[] = [
  'The frame will be painted a bright red color, standing out against the rest of the image.',
  'The picture frame will have a glossy red finish, and the wall behind it will stay the same.',
  'The sky will be dark blue with a bright full moon, and the street lights will glow warm yellow.',
  'The scene will be at night, with stars in the sky and soft light coming from the windows.',
  'The man will have a thick brown beard that covers his chin and cheeks.',
  'He will have a short, well groomed beard, and his face will look more mature.',
  'The small cottage will become a large mansion with tall white columns and many windows.',
  'The house will be much bigger, with a grand entrance and a wide garden in front of it.',
  "The yellow object will be removed from the dog's paws, and the grass will be visible underneath.",
  'The dog will be lying on the floor with nothing in its paws.',
  'The hair will be changed from red to a bright blue color.',
  'Her hair will be a deep blue shade, while the rest of the photo stays the same.',
  'The text will be removed, leaving a clean background behind it.',
  'The words on the sign will disappear, and the surface will look smooth and empty.',
  'The image will have stronger contrast, with darker shadows and brighter highlights.',
  'The colors will be more vivid, and the details will stand out more clearly.',
  'The people in the background will be removed, leaving an empty street behind the subject.',
  'The background will be clear of people, and only the main subject will remain.',
  'The photo will look professional, with balanced lighting, sharp focus and natural colors.',
  'The picture will look like it was taken in a studio, with soft light and a clean background.',
  'The image will be darker and sharper, with crisp edges and deep shadows.',
  'The overall image will be darker, and the edges of objects will look more defined.',
  'The girl will be removed from the photo, and the background will fill the space where she stood.',
  'The scene will show only the landscape, without the girl standing in front of it.',
  'The image will be brighter, with more light on the faces and the background.',
  'The whole scene will be lit more brightly, as if it were a sunny afternoon.',
  'The brown filter will be removed, and the image will show its natural colors.',
  'The photo will no longer have a warm brown tint, and the whites will look clean.',
  'The image will have more contrast and more light, as if the sun were shining directly on the scene.',
  'The scene will look brighter, with strong highlights and deeper shadows.',
  'The colors will be darker and richer, with deep red, green and blue tones.',
  'The image will be darker, and the red, green and blue channels will be more saturated.',
  'The face will have a happy smile, and the eyes will look bright and cheerful.',
  'The person will be smiling, with raised cheeks and a joyful expression.',
  'The view will be changed to a wide ocean with blue waves under a clear sky.',
  'The background will be the sea, with waves rolling toward a sandy beach.',
  'The basketball will be replaced with a black and white soccer ball.',
  'The player will be holding a soccer ball instead of a basketball.',
  'The floor will be made of warm wooden boards with a natural grain.',
  'The room will have a wooden floor, and the light will reflect softly on the polished wood.',
  'The trees will have orange and red leaves, and the sky will be a warm golden color.',
  'The water will be calm and clear, reflecting the mountains and the blue sky.',
  'The snow will cover the roofs and the road, and the air will look cold and misty.',
  'The flowers will bloom in pink, purple and white, filling the garden with color.',
  'The car will be painted a shiny metallic silver, with chrome wheels.',
  'The cat will wear a small red hat and a striped scarf around its neck.',
  'The old photograph will be restored, with the scratches and stains removed.',
  'The black and white photo will be colorized, with natural skin tones and a green lawn.',
  'The painting will look like a watercolor, with soft brush strokes and pale colors.',
  'The city will be flooded, with water reaching the doors of the buildings.',
  'The desert will turn into a green meadow with a small river running through it.',
  'The woman will wear a long elegant dress and a pearl necklace.',
  'The boy will be wearing sunglasses, and the light will reflect on the lenses.',
  'The kitchen will look modern, with white cabinets and a marble counter.',
  'The sunset will paint the clouds in pink and orange, and the sea will shine.',
  'The forest will be covered in thick fog, making the trees look mysterious.',
  'The bird will be flying over the lake, with its wings spread wide.',
  'The table will be set with plates of fruit, bread and a vase of roses.',
  'The building will look ancient, with cracked stone walls and climbing ivy.',
  'The puppy will be sleeping on a soft blanket next to the fireplace.',
  'The mountain will be covered in snow, and the sky above it will be clear.',
  'The lighting will be warm and dim, like a cozy evening indoors.',
  'The road will be wet after the rain, reflecting the lights of the shops.',
  'The child will be holding a bunch of colorful balloons.',
  'The picture will have a vintage look, with faded colors and a slight grain.',
  'The fruit in the bowl will be fresh and bright, with drops of water on it.',
  'The horse will be galloping across the field, kicking up dust behind it.',
];

const DEFAULT_BASE_VOCAB_SIZE = 1000;
const WORD_MARK = '\u2581'; // "▁", SentencePiece's space
const SPECIAL_TOKENS = ['<unk>', '<s>', '</s>'] as const;
const MGIE_TOKENS = ['<im_patch>', '<im_start>', '<im_end>', ...Array.from({ length: 8 }, (_, i) => `[IMG${i}]`)];
const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

export function buildTinyTokenizer(options: TinyTokenizerOptions = {}): TinyTokenizer {
  const baseVocabSize = options.vocabSize ?? DEFAULT_BASE_VOCAB_SIZE;
  const legacy = options.legacy ?? true;
  if (!Number.isInteger(baseVocabSize)) throw new RangeError(`vocabSize must be an integer, got ${baseVocabSize}`);

  const { pieces, merges, alphabet } = trainBpe(trainingWords(), baseVocabSize - SPECIAL_TOKENS.length - BYTE_TOKENS.length);
  // LLaMA's order: specials, byte tokens, merged pieces by rank, then the single characters.
  const baseTokens = [...SPECIAL_TOKENS, ...BYTE_TOKENS, ...pieces, ...alphabet];
  const vocab: Record<string, number> = {};
  baseTokens.forEach((token, id) => (vocab[token] = id));

  const specialTokenIds: Record<string, number> = {};
  SPECIAL_TOKENS.forEach((token, id) => (specialTokenIds[token] = id));
  MGIE_TOKENS.forEach((token, i) => (specialTokenIds[token] = baseTokens.length + i));
  const addedTokens = Object.entries(specialTokenIds).map(([content, id]) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));

  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: legacy
      ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: WORD_MARK }, { type: 'Replace', pattern: { String: ' ' }, content: WORD_MARK }] }
      : null,
    pre_tokenizer: legacy ? null : { type: 'Metaspace', replacement: WORD_MARK, prepend_scheme: 'first', split: false },
    // transformers' LlamaTokenizerFast template for add_bos_token true, add_eos_token false.
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [specialTokenIds['<s>']], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: WORD_MARK }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      // "a b" strings: read by every version of the Rust/Python tokenizers and by tokenizers.js
      // (pairs are only read since tokenizers 0.20); safe because no piece contains a space.
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };

  const tokenizerConfig = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(
      addedTokens.map(({ id, content }) => [String(id), { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }]),
    ),
    bos_token: '<s>',
    clean_up_tokenization_spaces: false,
    eos_token: '</s>',
    legacy,
    model_max_length: 2048,
    pad_token: null,
    sp_model_kwargs: {},
    tokenizer_class: 'LlamaTokenizer',
    unk_token: '<unk>',
  };

  return { tokenizerJson, tokenizerConfig, vocabSize: baseTokens.length + MGIE_TOKENS.length, specialTokenIds };
}

/** The text sections the tokenizer model sees (text between added tokens), counted as words. */
function trainingWords(): Map<string, number> {
  const sections = [
    ...DEMO_INSTRUCTIONS.map((instruction) => `${SYSTEM_PROMPT} USER: what will this image be like if '${instruction}'\n`),
    ...EXPRESSIVE_INSTRUCTIONS.map((answer) => ` ASSISTANT: ${answer}`),
    ...EXPRESSIVE_INSTRUCTIONS,
  ];
  const words = new Map<string, number>();
  for (const section of sections) {
    // The legacy normalizer's output; both layouts share the vocabulary learned from it.
    for (const word of splitWords(WORD_MARK + section.replaceAll(' ', WORD_MARK))) words.set(word, (words.get(word) ?? 0) + 1);
  }
  return words;
}

type CharClass = 'mark' | 'letter' | 'digit' | 'other';

function charClass(char: string): CharClass | null {
  if (char === WORD_MARK) return 'mark';
  if (/\p{L}|\p{M}/u.test(char)) return 'letter';
  if (/\p{Nd}/u.test(char)) return 'digit';
  if (/\p{Cc}/u.test(char)) return null; // left to byte fallback, as LLaMA does with "\n"
  return 'other';
}

/**
 * Pieces never cross a word start, a change between letters and other characters, or a control
 * character, and digits stay single (SentencePiece's split_by_whitespace, split_by_unicode_script
 * and split_digits, which LLaMA's model was trained with). A word may start with "▁".
 */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let wordClass: CharClass | null = null;
  const flush = (): void => {
    if (word) words.push(word);
    word = '';
    wordClass = null;
  };
  for (const char of text) {
    const cls = charClass(char);
    if (cls === null || cls === 'mark' || cls === 'digit' || (wordClass !== 'mark' && wordClass !== cls)) flush();
    if (cls === null) continue;
    word += char;
    wordClass = cls;
    if (cls === 'digit') flush();
  }
  flush();
  return words;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Classic BPE training: merge the most frequent adjacent pair until the vocabulary is full, ties
 * going to the lexicographically smallest pair (left piece, then right), so the result depends on
 * the corpus alone.
 */
function trainBpe(wordCounts: Map<string, number>, learnedBudget: number): { pieces: string[]; merges: [string, string][]; alphabet: string[] } {
  const entries = [...wordCounts].sort(([a], [b]) => compareStrings(a, b));
  const charCounts = new Map<string, number>();
  for (const [word, count] of entries) for (const char of word) charCounts.set(char, (charCounts.get(char) ?? 0) + count);
  const alphabet = [...charCounts].sort(([a, ca], [b, cb]) => cb - ca || compareStrings(a, b)).map(([char]) => char);

  const targetPieces = learnedBudget - alphabet.length;
  if (targetPieces < 0) {
    throw new RangeError(`vocabSize is too small: the corpus needs ${SPECIAL_TOKENS.length + BYTE_TOKENS.length + alphabet.length} base tokens before any merge`);
  }
  const words = entries.map(([word, count]) => ({ symbols: Array.from(word), count }));
  const known = new Set(alphabet);
  const pieces: string[] = [];
  const merges: [string, string][] = [];
  while (pieces.length < targetPieces) {
    const pairCounts = new Map<string, { left: string; right: string; count: number }>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]}\u0000${symbols[i + 1]}`;
        const pair = pairCounts.get(key);
        if (pair) pair.count += count;
        else pairCounts.set(key, { left: symbols[i], right: symbols[i + 1], count });
      }
    }
    let best: { left: string; right: string; count: number } | undefined;
    for (const pair of pairCounts.values()) {
      if (!best || pair.count > best.count || (pair.count === best.count && (compareStrings(pair.left, best.left) || compareStrings(pair.right, best.right)) < 0)) {
        best = pair;
      }
    }
    if (!best) {
      const most = SPECIAL_TOKENS.length + BYTE_TOKENS.length + alphabet.length + pieces.length;
      throw new RangeError(`vocabSize is too large: the built-in corpus supports at most ${most} base tokens`);
    }
    const { left, right } = best;
    const merged = left + right;
    merges.push([left, right]);
    // The same piece can come from two different pairs; it is one vocabulary entry with two merges.
    if (!known.has(merged)) {
      known.add(merged);
      pieces.push(merged);
    }
    for (const word of words) {
      const { symbols } = word;
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          out.push(merged);
          i++;
        } else {
          out.push(symbols[i]);
        }
      }
      word.symbols = out;
    }
  }
  return { pieces, merges, alphabet };
}
