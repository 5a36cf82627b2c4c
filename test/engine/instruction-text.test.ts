// The instruction's text as the reference, which runs in Python, would take it. It is trimmed as Python's
// str.strip() trims: JavaScript's trim() keeps U+0085 and U+001C..U+001F, which Python strips, and strips
// U+FEFF, which Python keeps (and LLaMA has a token for it); each changes the prompt's ids
// (test/models/llama-vocabulary.test.ts has them). Text that is not Unicode in Python is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkInstruction } from '../../companion-server/engine/check-instruction.ts';
import { cleanExpressiveInstruction } from '../../companion-server/engine/generation/clean-expressive-instruction.ts';
import { PYTHON_WHITESPACE, stripLikePython } from '../../companion-server/protocol/strip-like-python.ts';
import { checkInstruction as checkInstructionInUi } from '../../ui/describe-problem.ts';

// Python 3.11.7 (Unicode 14): [hex(c) for c in range(0x110000) if chr(c).isspace()]
const PYTHON_ISSPACE = [
  0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
  0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
];

test("stripLikePython removes exactly the characters Python's str.isspace() accepts", () => {
  assert.deepEqual([...PYTHON_WHITESPACE].map((c) => c.codePointAt(0)), PYTHON_ISSPACE);
  const python = new Set(PYTHON_ISSPACE);
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const c = String.fromCodePoint(code);
    assert.equal(stripLikePython(`${c}x${c}`), python.has(code) ? 'x' : `${c}x${c}`, `U+${code.toString(16)}`);
  }
});

test('stripLikePython gives what Python gives where JavaScript trim() does not', () => {
  // Each right-hand side is Python's repr(...strip()) for the left-hand side.
  const cases: Array<[string, string]> = [
    ['\u0085make it red\u0085', 'make it red'],
    ['\u001c\u001d\u001e\u001f make it red \u001f', 'make it red'],
    ['\ufeffmake it red\ufeff', '\ufeffmake it red\ufeff'],
    [' \ufeff make it red', '\ufeff make it red'],
    ['\u00a0\u3000make it red\u2028\u2029\u202f\u205f\u1680', 'make it red'],
    ['\u200bmake it red\u200b', '\u200bmake it red\u200b'],
    ['make  it  red', 'make  it  red'],
    [' \t\n\r\v\f', ''],
    ['', ''],
  ];
  for (const [text, python] of cases) assert.equal(stripLikePython(text), python, JSON.stringify(text));
  assert.notEqual('\u0085x\ufeff'.trim(), stripLikePython('\u0085x\ufeff'));
});

test('the instruction is trimmed as Python trims, and is empty when Python would make it empty', () => {
  assert.equal(checkInstruction('\u0085 make the frame red \u001f', 1000), 'make the frame red');
  assert.equal(checkInstruction('\ufeffmake the frame red\ufeff', 1000), '\ufeffmake the frame red\ufeff');
  assert.equal(checkInstruction('  make the frame  red  ', 1000), 'make the frame  red');
  assert.throws(() => checkInstruction('\u0085\u001c \u001f', 1000), /The instruction is empty/);
  assert.equal(checkInstruction('\ufeff', 1000), '\ufeff');
  // The plugin UI sends nothing an edit would refuse as empty, and says so itself.
  assert.match(checkInstructionInUi('\u0085\u001c', { maxInstructionLength: 1000 } as Parameters<typeof checkInstructionInUi>[1]) ?? '', /Type what to change/);
  assert.equal(checkInstructionInUi('\ufeff', { maxInstructionLength: 1000 } as Parameters<typeof checkInstructionInUi>[1]), undefined);
});

test("the expressive instruction's pieces are trimmed as the reference's remove_alter trims them (str.strip)", () => {
  assert.equal(cleanExpressiveInstruction('The sky is blue.\u0085It glows.\u001f More.'), 'The sky is blue.It glows.');
  assert.equal(cleanExpressiveInstruction('\ufeffThe sky is blue. [IMG0]'), '\ufeffThe sky is blue.');
  assert.equal(cleanExpressiveInstruction('The sky is blue\u001c</s>'), 'The sky is blue.');
});

test('an instruction with an unpaired surrogate is refused: Python cannot encode it, and the runtime would read U+FFFD', () => {
  for (const instruction of ['make it \ud800 red', 'make it red\udc00', '\udfff', 'a\udbff']) {
    assert.throws(() => checkInstruction(instruction, 1000), /The instruction has a broken character \(an unpaired UTF-16 surrogate at position \d+\)/, JSON.stringify(instruction));
  }
  assert.equal(checkInstruction('make it 🍂 red', 1000), 'make it 🍂 red');
});
