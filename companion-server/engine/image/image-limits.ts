/** Limits on what an edit accepts; beyond them an edit fails with a clear error before any work. */
export interface ImageLimits {
  /** Longest side of an input image, in pixels. */
  maxInputSide: number;
  /** Pixel count of an input image (width x height), checked from the header before decoding. */
  maxInputPixels: number;
  /** Largest edit size (the long side the model works at). */
  maxEditSize: number;
  /** Most diffusion steps one edit may ask for. */
  maxSteps: number;
  /** Longest instruction, in characters as countCharacters counts them (Unicode code points: an emoji is one). */
  maxInstructionLength: number;
}

export const DEFAULT_LIMITS: ImageLimits = {
  maxInputSide: 8192,
  maxInputPixels: 40_000_000,
  maxEditSize: 1024,
  maxSteps: 200,
  maxInstructionLength: 1000,
};
