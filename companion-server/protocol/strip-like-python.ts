// Browser-safe (the plugin UI trims the instruction before sending it, exactly as the server does).

/**
 * The characters Python's str.strip() removes: those str.isspace() accepts (Python 3.11, Unicode 14; Unicode
 * White_Space plus the bidirectional classes B, S and WS). JavaScript's trim() removes a different set: it
 * keeps U+001C..U+001F and U+0085, which Python strips, and strips U+FEFF, which Python keeps. MGIE's
 * reference runs in Python, so the instruction is trimmed as Python would, or the ids would differ.
 */
export const PYTHON_WHITESPACE = '\t\n\v\f\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

const WHITESPACE = new Set(PYTHON_WHITESPACE);

/** text.strip() in Python. (All of PYTHON_WHITESPACE is in the BMP: one UTF-16 unit each.) */
export function stripLikePython(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && WHITESPACE.has(text[start])) start++;
  while (end > start && WHITESPACE.has(text[end - 1])) end--;
  return text.slice(start, end);
}
