// Seeded strings for tokenizer parity tests, by category: the text a designer may type, and the text that
// breaks tokenizers (whitespace runs, control characters, astral characters, special-token look-alikes).
// The same seed gives the same strings everywhere. No string contains an added token's exact text
// (<unk> <s> </s> <im_patch> <im_start> <im_end> [IMG0]..[IMG7]): those are tested on their own, since the
// runtime splits them off and a plain SentencePiece encoder does not. No string has an unpaired surrogate
// (not text in Python, which the reference runs on).

export const CATEGORIES = [
  'space runs', 'newlines and tabs', 'digits', 'accents', 'CJK', 'emoji', 'rare characters',
  'quotes and punctuation', 'very long words', 'special-token look-alikes', 'instructions', 'mixed',
] as const;
export type Category = (typeof CATEGORIES)[number];

const ADDED_TOKEN_TEXT = /<unk>|<s>|<\/s>|<im_patch>|<im_start>|<im_end>|\[IMG[0-7]\]/;

export function generateTokenizerStrings(perCategory: number, seed = 11): Array<{ category: Category; text: string }> {
  const random = mulberry32(seed);
  const out: Array<{ category: Category; text: string }> = [];
  for (const category of CATEGORIES) {
    for (let made = 0; made < perCategory; ) {
      const text = GENERATORS[category](random);
      if (text.length === 0 || ADDED_TOKEN_TEXT.test(text)) continue;
      out.push({ category, text });
      made++;
    }
  }
  return out;
}

type Random = () => number;

function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (random: Random, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const times = (random: Random, min: number, max: number, make: () => string): string[] => Array.from({ length: int(random, min, max) }, make);
const codePoint = (random: Random, from: number, to: number): string => String.fromCodePoint(int(random, from, to));

const WORDS = [
  'make', 'the', 'frame', 'red', 'turn', 'day', 'into', 'night', 'give', 'him', 'a', 'beard', 'remove', 'text',
  'sky', 'blue', 'photo', 'look', 'like', 'autumn', 'brighter', 'contrast', 'background', 'people', 'I', 'it',
  'grabbed', 'Hello', 'world', 'The', 'llama', 'is', 'an', 'of', 'and', 'with', 'ASSISTANT', 'USER', 'image',
];
const word = (random: Random): string => pick(random, WORDS);
const DEMO = [
  'make the frame red', 'turn the day into night', 'give him a beard', 'make cottage a mansion', 'remove yellow object from dogs paws',
  'change the hair from red to blue', 'remove the text', 'increase the image contrast', 'please make this photo professional looking',
  'darken the image, sharpen it', 'take away the brown filter form the image', 'let the floor be made of wood',
];
const LOOK_ALIKES = [
  '<s >', '< s>', '<S>', '</S>', '<s', 's>', '</ s>', '</s', '<unk', 'unk>', '<UNK>', '< unk>', '<0x0A>', '<0x0a>', '<0xZZ>', '<0x>',
  '<im_patch', 'im_patch>', '<IM_PATCH>', '< im_start>', '<im_end >', '<im-end>', '[IMG0', 'IMG0]', '[img0]', '[IMG8]', '[IMG 0]',
  '[IMG-1]', '[IMG00]', '<|endoftext|>', '<pad>', '[PAD]', '▁', '▁▁▁', '▁make', '{image}', '{instruction}', 'ASSISTANT:', 'USER:',
  '<<s >>', '[[IMG9]]', '<im_start<', '\\n', '&lt;s&gt;',
];
const QUOTES = ["'", '"', '`', '´', '‘', '’', '“', '”', '«', '»', '„', '‹', '›', '「', '」', "''", '""', '```'];
const PUNCTUATION = ['.', ',', '!', '?', ';', ':', '...', '!!!', '?!', '--', '---', '----', '====', '####', '***', '(', ')', '[', ']', '{', '}', '/', '\\', '|', '~', '^', '%', '&', '@', '#', '$', '+', '=', '<', '>', '_', '-'];
const WHITESPACE = [' ', '\n', '\t', '\r\n', '\r', '\v', '\f'];
const ACCENTED = [
  'café', 'naïve', 'résumé', 'über', 'Ærø', 'œuvre', 'straße', 'niño', 'façade', 'Ångström', 'crème brûlée', 'Tiếng Việt', 'ệ', 'ǅ',
  'e\u0301', 'a\u0300\u0301', 'n\u0303', 'Ελληνικά', 'Русский', 'українська', 'עברית', 'العربية', 'हिन्दी', 'ไทย', 'ქართული', 'Հայերեն',
];
const EMOJI = ['🦙', '🎨', '🖼️', '👩‍💻', '👍🏽', '🇫🇷', '1️⃣', '❤️', '☀', '⭐', '🏳️‍🌈', '👨‍👩‍👧‍👦', '🙂', '🔥', '✨', '🌙'];
const RARE = [
  '\u0000', '\u0001', '\u0007', '\u001b', '\u001c', '\u001d', '\u001e', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f', '\u00a0', '\u00ad',
  '\u034f', '\u061c', '\u1680', '\u180e', '\u2000', '\u2007', '\u200a', '\u200b', '\u200c', '\u200d', '\u200e', '\u2028', '\u2029', '\u202f',
  '\u205f', '\u2060', '\u3000', '\ufeff', '\ufffd', '\ufffe', '\uffff', '\ue000', '\uf8ff', '\u{1d518}', '\u{10000}', '\u{1f0a1}',
  '\u{e0001}', '\u{f0000}', '\u{10fffd}', '\u{10ffff}',
];

const GENERATORS: Record<Category, (random: Random) => string> = {
  'space runs': (random) => {
    const spaces = (): string => ' '.repeat(pick(random, [1, 1, 2, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, int(random, 1, 40)]));
    if (random() < 0.1) return spaces();
    const lead = random() < 0.3 ? spaces() : '';
    const trail = random() < 0.3 ? spaces() : '';
    return lead + times(random, 1, 8, () => word(random)).join(spaces()) + trail;
  },
  'newlines and tabs': (random) => {
    const gap = (): string => times(random, 1, 6, () => pick(random, WHITESPACE)).join('');
    return (random() < 0.3 ? gap() : '') + times(random, 1, 6, () => word(random)).join(gap()) + (random() < 0.3 ? gap() : '');
  },
  digits: (random) => {
    const number = (): string => pick(random, [
      () => String(int(random, 0, 9)),
      () => String(int(random, 0, 1e9)),
      () => Array.from({ length: int(random, 5, 40) }, () => String(int(random, 0, 9))).join(''),
      () => `${int(random, 0, 999)}.${int(random, 0, 99999)}`,
      () => `${int(random, 1, 999)},${String(int(random, 0, 999)).padStart(3, '0')},${String(int(random, 0, 999)).padStart(3, '0')}`,
      () => `${int(random, 1900, 2100)}-${String(int(random, 1, 12)).padStart(2, '0')}-${String(int(random, 1, 28)).padStart(2, '0')}`,
      () => `x${int(random, 2, 16)}`,
      () => `${int(random, 1, 100)}%`,
      () => `#${int(random, 0, 0xffffff).toString(16).padStart(6, '0')}`,
      () => `${int(random, 1, 4096)}x${int(random, 1, 4096)}`,
      () => '٠١٢٣٤٥٦٧٨٩'.slice(0, int(random, 1, 10)),
      () => '１２３',
    ])();
    return times(random, 1, 6, () => (random() < 0.6 ? number() : word(random))).join(pick(random, [' ', '', '  ', ', ']));
  },
  accents: (random) => times(random, 1, 6, () => (random() < 0.7 ? pick(random, ACCENTED) : word(random))).join(pick(random, [' ', ' ', '', '-'])),
  CJK: (random) => {
    const run = (): string => pick(random, [
      () => times(random, 1, 12, () => codePoint(random, 0x4e00, 0x9fff)).join(''),
      () => times(random, 1, 8, () => codePoint(random, 0x3041, 0x3096)).join(''),
      () => times(random, 1, 8, () => codePoint(random, 0x30a1, 0x30fa)).join(''),
      () => times(random, 1, 8, () => codePoint(random, 0xac00, 0xd7a3)).join(''),
      () => pick(random, ['。', '、', '！', '？', '（', '）', '「', '」', '・', 'ー', '，', '：', '　']),
      () => pick(random, ['镇', '你好，世界', '让天空变蓝', '背景を消して', '사진을 밝게', 'ｆｕｌｌｗｉｄｔｈ']),
      () => word(random),
    ])();
    return times(random, 1, 6, run).join(pick(random, ['', ' ', '', '  ']));
  },
  emoji: (random) => times(random, 1, 8, () => (random() < 0.6 ? pick(random, EMOJI) : random() < 0.5 ? codePoint(random, 0x1f300, 0x1faff) : word(random))).join(pick(random, ['', ' ', ' '])),
  'rare characters': (random) => times(random, 1, 8, () => (random() < 0.6 ? pick(random, RARE) : word(random))).join(pick(random, ['', ' ', ''])),
  'quotes and punctuation': (random) => {
    const quoted = (): string => {
      const quote = pick(random, QUOTES);
      return pick(random, [
        () => `${quote}${word(random)}${quote}`,
        () => `${word(random)}${pick(random, PUNCTUATION)}`,
        () => pick(random, ["don't", "it's", "I'm", "you're", "can't", "o'clock", "rock'n'roll", 'l’été']),
        () => `${word(random)}${pick(random, QUOTES)}s`,
        () => pick(random, ['https://example.com/a?b=c&d=e', 'user@example.com', 'C:\\Users\\me', '/usr/local/bin', 'a = b;', '**bold**', '`code`', '<b>', '&amp;', 'e.g.', 'U.S.A.']),
        () => times(random, 2, 10, () => pick(random, PUNCTUATION)).join(''),
      ])();
    };
    return times(random, 1, 7, quoted).join(pick(random, [' ', ' ', '', '  ']));
  },
  'very long words': (random) => pick(random, [
    () => times(random, 30, 300, () => String.fromCharCode(int(random, 97, 122))).join(''),
    () => pick(random, ['a', 'e', 'z', '=', '-', '.', '!', '0', '_', '▁', 'é', '镇']).repeat(int(random, 10, 200)),
    () => times(random, 8, 40, () => pick(random, ['ba', 'na', 'la', 'ma', 'ing', 'tion', 'super', 'cali', 'fragi', 'listic'])).join(''),
    () => times(random, 4, 20, () => word(random)).join(pick(random, ['', '-', '_'])),
    () => `${word(random)} ${'pneumonoultramicroscopicsilicovolcanoconiosis'.repeat(int(random, 1, 4))} ${word(random)}`,
    () => times(random, 10, 60, () => word(random)).map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join(''),
  ])(),
  'special-token look-alikes': (random) => times(random, 1, 6, () => (random() < 0.6 ? pick(random, LOOK_ALIKES) : word(random))).join(pick(random, [' ', '', '  '])),
  instructions: (random) => {
    let text = pick(random, DEMO);
    const edits = int(random, 1, 3);
    for (let i = 0; i < edits; i++) {
      text = pick(random, [
        () => text.replace(' ', ' '.repeat(int(random, 2, 5))),
        () => text + ' '.repeat(int(random, 1, 3)),
        () => ' '.repeat(int(random, 1, 3)) + text,
        () => text.replace(' ', pick(random, ['\t', '\n', ' \n', '\n\n', ' \t '])),
        () => text[0].toUpperCase() + text.slice(1),
        () => `${text}${pick(random, ['.', '!', '?', ' please', ', thanks'])}`,
        () => `'${text}'`,
      ])();
    }
    return text;
  },
  mixed: (random) => times(random, 2, 5, () => GENERATORS[pick(random, CATEGORIES.filter((c) => c !== 'mixed'))](random)).join(pick(random, WHITESPACE.concat(['', '  ']))),
};
