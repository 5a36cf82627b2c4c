import { stripLikePython } from '../../protocol/strip-like-python.ts';

/**
 * The expressive instruction shown to the designer, cut from the decoded answer exactly as the
 * reference's remove_alter (mgie-reference.md §5), trimming as its Python str.strip() does. Returns ''
 * for an empty answer instead of failing.
 */
export function cleanExpressiveInstruction(answer: string, imgToken = '[IMG0]', eosToken = '</s>'): string {
  let text = answer;
  const eos = text.indexOf(eosToken);
  if (eos >= 0) text = stripLikePython(text.slice(0, eos));
  const alternative = text.toLowerCase().indexOf('alternative');
  if (alternative >= 0) text = text.slice(0, alternative);
  const img = text.indexOf(imgToken);
  if (img >= 0) text = text.slice(0, img);
  // The reference joins the first two sentences with '.' and no space; kept for fidelity.
  text = text.split('.').slice(0, 2).map(stripLikePython).join('.');
  if (text.length === 0) return '';
  if (!text.endsWith('.')) text += '.';
  return stripLikePython(text);
}
