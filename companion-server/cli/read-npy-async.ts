// Reads a NumPy .npy file of float32 values (what a Python reference run saves with np.save), for
// `mgie edit --initial-noise`. Only what that needs: format 1.0-3.0, little-endian float32, C order.
import { readFile } from 'node:fs/promises';
import { MgieError } from '../engine/errors.ts';

export async function readFloat32NpyAsync(path: string): Promise<{ data: Float32Array; shape: number[] }> {
  const bytes = await readFile(path).catch((cause: NodeJS.ErrnoException) => {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `Cannot read ${path} (${cause.code ?? cause.message}).`, { cause });
  });
  const bad = (why: string) => new MgieError('MGIE_ERR_BAD_PARAMETER', `${path} is not a float32 .npy file: ${why}. Save it with np.save(path, array.astype(np.float32)).`);
  if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw bad('no NumPy magic');
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.toString(major === 3 ? 'utf8' : 'latin1', headerStart, headerStart + headerLength);
  const descr = header.match(/'descr':\s*'([^']+)'/)?.[1];
  if (descr !== '<f4') throw bad(`dtype ${descr ?? 'unknown'}, expected <f4`);
  if (!/'fortran_order':\s*False/.test(header)) throw bad('Fortran order');
  const shapeText = header.match(/'shape':\s*\(([^)]*)\)/)?.[1];
  if (shapeText === undefined) throw bad('no shape');
  const shape = shapeText.split(',').map((part) => part.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((product, size) => product * size, 1);
  const dataStart = headerStart + headerLength;
  if (bytes.length - dataStart !== count * 4) throw bad(`${bytes.length - dataStart} data bytes for shape (${shape.join(', ')})`);
  // Copy: the file buffer's offset need not be 4-byte aligned.
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(dataStart + 4 * i);
  return { data, shape };
}
