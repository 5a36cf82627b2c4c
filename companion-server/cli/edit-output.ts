// Where `mgie edit` writes: the format the file's extension names, and a path checked before any work,
// so a typo in --out costs a second rather than a whole edit.
import { constants } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { CommandFailure, UsageError } from './cli-errors.ts';

export type OutputFormat = 'png' | 'jpeg' | 'webp';

const FORMAT_BY_EXTENSION: Record<string, OutputFormat> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp' };
const EXTENSIONS = Object.keys(FORMAT_BY_EXTENSION).join(', ');
/** Lossy formats: high enough that a designer sees no artefacts, still a fraction of the PNG. */
const QUALITY = 92;

/** The format --out asks for by its extension, or a UsageError listing the ones mgie writes. */
export function outputFormatOf(file: string): OutputFormat {
  const extension = path.extname(file).toLowerCase();
  const format = FORMAT_BY_EXTENSION[extension];
  if (format === undefined) {
    throw new UsageError(`--out ${file}: ${extension ? `mgie does not write "${extension}" files` : 'the name has no extension'}; end it in one of ${EXTENSIONS}.`);
  }
  return format;
}

/** OUT.png with a suffix before its extension: numberedOutputPath('a/edited.png', '2') is 'a/edited-2.png'. */
export function numberedOutputPath(file: string, suffix: string): string {
  const extension = path.extname(file);
  return `${file.slice(0, file.length - extension.length)}-${suffix}${extension}`;
}

/** The folder exists and is writable, and the path is not itself a folder. */
export async function checkOutputPathAsync(file: string): Promise<void> {
  const folder = path.dirname(path.resolve(file));
  const folderInfo = await stat(folder).catch(() => null);
  if (folderInfo === null) throw new CommandFailure(`Cannot write ${file}: the folder ${folder} does not exist. Create it, or choose another --out.`);
  if (!folderInfo.isDirectory()) throw new CommandFailure(`Cannot write ${file}: ${folder} is a file, not a folder. Choose another --out.`);
  const info = await stat(file).catch(() => null);
  if (info?.isDirectory()) throw new CommandFailure(`--out ${file} is a folder; give a file name, for example ${path.join(file, 'edited.png')}.`);
  const target = info ? file : folder;
  await access(target, constants.W_OK).catch(() => {
    throw new CommandFailure(`Cannot write ${file}: ${info ? 'the file' : `the folder ${folder}`} is not writable. Choose another --out, or change its permissions.`);
  });
}

/** Writes the edit's PNG in the format asked for. PNG and WebP keep transparency; JPEG has none, so it is flattened onto white, as Figma shows it. */
export async function writeEditOutputAsync(file: string, png: Buffer, format: OutputFormat): Promise<void> {
  const bytes =
    format === 'png'
      ? png
      : format === 'jpeg'
        ? await sharp(png).flatten({ background: '#ffffff' }).jpeg({ quality: QUALITY }).toBuffer()
        : await sharp(png).webp({ quality: QUALITY, alphaQuality: 100 }).toBuffer();
  await writeFile(file, bytes).catch((cause: NodeJS.ErrnoException) => {
    throw new CommandFailure(`Cannot write ${file} (${cause.code ?? cause.message}). Check the folder exists and is writable.`, { cause });
  });
}
