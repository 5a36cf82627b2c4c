// Pillow's `Image.resize(size, resample=BICUBIC | LANCZOS)` on an 8-bit RGB image, bit for bit: the
// reference preprocesses with it (CLIP's image processor: bicubic, shortest side to 224; diffusers'
// InstructPix2Pix pipeline: Lanczos, each side floored to a multiple of 8), and sharp's kernels differ
// by up to 10/255 per channel, enough to flip a near-tied greedy token.
//
// Follows src/libImaging/Resample.c of Pillow 9.4 (Debian bookworm's python3-pil), whose 8-bit path is
// the same through Pillow 12.3: precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc,
// ImagingResampleVertical_8bpc and ImagingResampleInner. One later change moves results: from
// Pillow 12.2, Image.resize shrinks an image more than 100 times taller than wide vertically first
// (Image.py), so for those extreme strips Pillow >= 12.2 gives other bytes than this (and 9.4).
// Goldens: test/fixtures/pillow-resize/compute-pillow-resize-golden.py.

export type PillowFilter = 'bicubic' | 'lanczos';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB bytes, row-major. */
  rgb: Uint8Array;
}

/** A rectangle of the resized image, in its pixels. */
export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

interface Filter {
  kernel(x: number): number;
  support: number;
}

// Resample.c's bicubic_filter with a = -0.5, written in its order of operations (the rounding of each
// double operation is part of the result). https://en.wikipedia.org/wiki/Bicubic_interpolation
function bicubic(x: number): number {
  if (x < 0) x = -x;
  if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * -0.5;
  return 0;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

// Resample.c's lanczos_filter: a sinc windowed by a sinc three times wider.
function lanczos(x: number): number {
  if (-3 <= x && x < 3) return sinc(x) * sinc(x / 3);
  return 0;
}

const FILTERS: Record<PillowFilter, Filter> = {
  bicubic: { kernel: bicubic, support: 2 },
  lanczos: { kernel: lanczos, support: 3 },
};

// Resample.c: 32 - 8 - 2 bits, room for the 8-bit pixel and two bits of overflow from negative lobes.
const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coefficients {
  /** Taps per output pixel (the stride of `weights`). */
  ksize: number;
  /** For each output pixel: the first input pixel and how many follow. */
  first: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, PRECISION_BITS fractional bits. */
  weights: Int32Array;
}

/**
 * Resample.c's precompute_coeffs and normalize_coeffs_8bpc for the box [0, inSize]: a filter stretched
 * by the downscale factor (antialiasing), weights normalised per output pixel, then rounded half away
 * from zero to fixed point.
 */
function precomputeCoefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterScale;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // `(int)` in C truncates toward zero
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.kernel((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, first, count, weights };
}

// Resample.c's clip8: the fixed-point sum back to a byte, clamped.
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * `image` resized to outWidth x outHeight as Pillow resizes it. With `window`, only that part of the
 * resized image is computed and returned (each output pixel depends only on its own coefficients, so
 * this is the same as resizing everything and cropping, for less work).
 */
export function pillowResize(image: RgbImage, outWidth: number, outHeight: number, filter: PillowFilter, window?: ResizeWindow): RgbImage {
  const { width: inWidth, height: inHeight, rgb } = image;
  if (!(Number.isInteger(outWidth) && Number.isInteger(outHeight) && outWidth >= 1 && outHeight >= 1)) {
    throw new RangeError(`pillowResize needs a whole output size of at least 1x1, got ${outWidth}x${outHeight}.`);
  }
  if (rgb.length !== inWidth * inHeight * 3) throw new RangeError(`pillowResize: ${rgb.length} bytes is not ${inWidth}x${inHeight} RGB.`);
  const win = window ?? { left: 0, top: 0, width: outWidth, height: outHeight };
  if (win.left < 0 || win.top < 0 || win.width < 1 || win.height < 1 || win.left + win.width > outWidth || win.top + win.height > outHeight) {
    throw new RangeError(`pillowResize: the window ${JSON.stringify(win)} is not inside ${outWidth}x${outHeight}.`);
  }
  const kernel = FILTERS[filter];
  // ImagingResampleInner: a pass runs only when its side changes; with neither, Image.resize copies.
  const needHorizontal = outWidth !== inWidth;
  const needVertical = outHeight !== inHeight;

  // The rows the vertical pass reads (all of the window's rows when there is no vertical pass).
  const vertical = needVertical ? precomputeCoefficients(inHeight, outHeight, kernel) : null;
  const rowFirst = vertical ? vertical.first[win.top] : win.top;
  const rowEnd = vertical ? vertical.first[win.top + win.height - 1] + vertical.count[win.top + win.height - 1] : win.top + win.height;

  // Horizontal pass (ImagingResampleHorizontal_8bpc): those rows, the window's columns, clipped to bytes.
  let temp: Uint8Array;
  let tempWidth: number;
  let tempLeft: number; // the input column of temp's column 0 when the horizontal pass is skipped
  if (needHorizontal) {
    const { ksize, first, count, weights } = precomputeCoefficients(inWidth, outWidth, kernel);
    tempWidth = win.width;
    tempLeft = 0;
    temp = new Uint8Array(tempWidth * (rowEnd - rowFirst) * 3);
    let o = 0;
    for (let y = rowFirst; y < rowEnd; y++) {
      const row = y * inWidth * 3;
      for (let xx = win.left; xx < win.left + win.width; xx++) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = row + first[xx] * 3;
        const w0 = xx * ksize;
        const n = count[xx];
        for (let x = 0; x < n; x++, p += 3) {
          const w = weights[w0 + x];
          s0 += rgb[p] * w;
          s1 += rgb[p + 1] * w;
          s2 += rgb[p + 2] * w;
        }
        temp[o++] = clip8(s0);
        temp[o++] = clip8(s1);
        temp[o++] = clip8(s2);
      }
    }
  } else {
    temp = rgb;
    tempWidth = inWidth;
    tempLeft = win.left;
  }

  if (!vertical) {
    if (needHorizontal) return { width: win.width, height: win.height, rgb: temp };
    // neither pass: a copy (Image.resize returns self.copy()), cropped to the window
    const out = new Uint8Array(win.width * win.height * 3);
    for (let y = 0; y < win.height; y++) {
      const start = ((win.top + y) * inWidth + win.left) * 3;
      out.set(rgb.subarray(start, start + win.width * 3), y * win.width * 3);
    }
    return { width: win.width, height: win.height, rgb: out };
  }

  // Vertical pass (ImagingResampleVertical_8bpc) over the temp rows, whose row 0 is input row rowFirst
  // when the horizontal pass ran, or the input itself.
  const { ksize, first, count, weights } = vertical;
  const rowBase = needHorizontal ? rowFirst : 0;
  const out = new Uint8Array(win.width * win.height * 3);
  const stride = tempWidth * 3;
  let o = 0;
  for (let yy = win.top; yy < win.top + win.height; yy++) {
    const w0 = yy * ksize;
    const n = count[yy];
    const top = (first[yy] - rowBase) * stride;
    for (let xx = 0; xx < win.width; xx++) {
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = top + (tempLeft + xx) * 3;
      for (let y = 0; y < n; y++, p += stride) {
        const w = weights[w0 + y];
        s0 += temp[p] * w;
        s1 += temp[p + 1] * w;
        s2 += temp[p + 2] * w;
      }
      out[o++] = clip8(s0);
      out[o++] = clip8(s1);
      out[o++] = clip8(s2);
    }
  }
  return { width: win.width, height: win.height, rgb: out };
}
