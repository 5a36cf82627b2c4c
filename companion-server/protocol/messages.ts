// Wire protocol version 2 between the companion server and its clients (the Figma plugin UI,
// scripts). Defined once here and imported by both sides; browser-safe (no Node imports).
// JSON text frames carry control and events; binary frames carry image bytes with a JSON header.
import { type Static, Type } from '@sinclair/typebox';

/**
 * 2: `submit` may carry an expressive instruction, variations, a chain and a mask (after the image in the
 * same frame); results say where their expressive instruction came from and which variation or chain step
 * they are. A client needs 2 to use these; what version 1 sent still works the same.
 */
export const PROTOCOL_VERSION = 2;
/** The most variations one submit may ask for (the engine's MAX_VARIATIONS). */
export const MAX_WIRE_VARIATIONS = 8;
/** The most instructions one chain may hold, the first (`instruction`) included (the engine's MAX_CHAIN_STEPS). */
export const MAX_WIRE_CHAIN_STEPS = 8;
export const WEBSOCKET_PATH = '/v1/ws';

const JobId = Type.String({ minLength: 1, maxLength: 64 });
const ClientJobId = Type.String({ minLength: 1, maxLength: 64 });

export const EditParametersSchema = Type.Object(
  {
    steps: Type.Optional(Type.Integer({ minimum: 1 })),
    guidanceScale: Type.Optional(Type.Number({ minimum: 0 })),
    imageGuidanceScale: Type.Optional(Type.Number({ minimum: 0 })),
    size: Type.Optional(Type.Integer({ minimum: 1 })),
    /** 'fit' (default): the long side scaled to `size`; 'native': the image's own size, as the MGIE notebook. */
    sizeMode: Type.Optional(Type.Union([Type.Literal('fit'), Type.Literal('native')])),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
    scheduler: Type.Optional(Type.Union([Type.Literal('euler-ancestral'), Type.Literal('euler'), Type.Literal('ddim')])),
  },
  { additionalProperties: false },
);
export type WireEditParameters = Static<typeof EditParametersSchema>;

// ---- client -> server ------------------------------------------------------------------

/**
 * Header of the binary frame that submits an edit; the frame's payload is the image (PNG/JPEG), followed
 * by the mask's `maskBytes` bytes when there is one (splitSubmitPayload).
 */
export const SubmitHeaderSchema = Type.Object(
  {
    type: Type.Literal('submit'),
    clientJobId: ClientJobId,
    instruction: Type.String({ minLength: 1 }),
    parameters: Type.Optional(EditParametersSchema),
    /** Ask for live previews of this job. */
    previews: Type.Optional(Type.Boolean()),
    /** The designer's own expressive instruction, used instead of the one MGIE would write. */
    expressiveInstruction: Type.Optional(Type.String({ minLength: 1 })),
    /** 1..8 edits of the instruction in one job, seeds seed, seed + 1, ...: one result message each. */
    variations: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_WIRE_VARIATIONS })),
    /** Further instructions, each editing the previous step's result; `instruction` is step 1. */
    chain: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: MAX_WIRE_CHAIN_STEPS - 1 })),
    /** Length of the mask (PNG, JPEG, WebP; white edits, black keeps) that follows the image in the payload. */
    maskBytes: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type SubmitHeader = Static<typeof SubmitHeaderSchema>;

export const ClientMessageSchema = Type.Union([
  Type.Object({ type: Type.Literal('cancel'), jobId: JobId }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('ping'), id: Type.Optional(Type.Integer()) }, { additionalProperties: false }),
]);
export type ClientMessage = Static<typeof ClientMessageSchema>;

// ---- server -> client ------------------------------------------------------------------

export interface ServerLimits {
  maxImageBytes: number;
  maxImagePixels: number;
  maxImageSide: number;
  maxEditSize: number;
  maxSteps: number;
  /** In Unicode code points (countCharacters), not UTF-16 units. */
  maxInstructionLength: number;
  maxQueuedPerClient: number;
  maxFrameBytes: number;
}

export interface JobParameters {
  steps: number;
  guidanceScale: number;
  imageGuidanceScale: number;
  size: number;
  /** Absent from results of servers before size modes (they scaled, as 'fit' does, but stretched). */
  sizeMode?: 'fit' | 'native';
  seed: number;
  scheduler: string;
}

/** GET /v1/info (token required): what the plugin's "test connection" shows and checks. */
export interface ServerInfo {
  server: { name: string; version: string; protocol: number; onnxruntime: string; node: string };
  model: {
    name: string;
    description?: string;
    provider: string;
    /** How the provider was chosen (`auto` or a named one) and why each other GPU provider was not. */
    providers: { requested: string; chosen: string; notChosen: Array<{ name: string; reason: string }> };
    defaults: Omit<JobParameters, 'seed' | 'scheduler' | 'sizeMode'>;
  } | null;
  ready: boolean;
  limits: ServerLimits;
  queue: { waiting: number; running: number; connections: number };
}

export type EditStageName = 'prepare' | 'vision' | 'generate' | 'condition' | 'encode' | 'diffuse' | 'decode';

export type ServerMessage =
  | { type: 'hello'; protocol: number; clientId: string; /** Whose token the connection uses (`default`: the single token). */ user?: string; server: { name: string; version: string }; model: { name: string; provider: string; defaults: Omit<JobParameters, 'seed' | 'sizeMode'> }; limits: ServerLimits }
  /** The job is in the queue; `position` 0 means it starts now. Re-sent for each job on reconnect. */
  | { type: 'accepted'; jobId: string; clientJobId: string; position: number }
  | { type: 'position'; jobId: string; position: number }
  | { type: 'started'; jobId: string }
  | { type: 'stage'; jobId: string; stage: EditStageName }
  | { type: 'tokens'; jobId: string; generated: number; max: number }
  | { type: 'instruction'; jobId: string; text: string }
  | { type: 'step'; jobId: string; step: number; steps: number }
  /** A chain's step `step` of `of` begins: the events that follow, up to the next, are its edit's. */
  | { type: 'chain-step'; jobId: string; step: number; of: number; instruction: string }
  | { type: 'cancelled'; jobId: string }
  /** `jobId` is absent for errors about a frame that never became a job. */
  | { type: 'error'; jobId?: string; clientJobId?: string; code: string; message: string }
  | { type: 'pong'; id?: number }
  | { type: 'shutdown'; message: string };

/** Header of the binary frame that carries a finished edit; payload: the PNG. */
export interface ResultHeader {
  type: 'result';
  jobId: string;
  clientJobId: string;
  instruction: string;
  expressiveInstruction: string;
  /** 'model': MGIE wrote the expressive instruction; 'given': the submit's. Absent from servers before protocol 2. */
  expressiveInstructionSource?: 'model' | 'given';
  /** Whether a mask limited the edit (the pixels it keeps are the input's). Absent before protocol 2. */
  masked?: boolean;
  parameters: JobParameters;
  width: number;
  height: number;
  model: string;
  timings: Record<string, number>;
  cached: boolean;
  /** Jobs with variations: this is variation `variation` of `of`, made with `seed`; the job ends with `of`. */
  variation?: number;
  of?: number;
  seed?: number;
  /** Chains: this is step `chainStep` of `of`; the step `of` result is the chain's result and ends the job. */
  chainStep?: number;
}

/** Header of a preview frame (only for jobs submitted with previews: true); payload: a small JPEG. */
export interface PreviewHeader {
  type: 'preview';
  jobId: string;
  step: number;
  steps: number;
  width: number;
  height: number;
}

export type ServerBinaryHeader = ResultHeader | PreviewHeader;

// ---- binary frames -------------------------------------------------------------------------
// [4 bytes: header length N, big-endian][N bytes: UTF-8 JSON header][payload bytes]

export function encodeBinaryFrame(header: object, payload: Uint8Array): Uint8Array {
  const head = encodeBinaryFrameHead(header);
  const frame = new Uint8Array(head.length + payload.length);
  frame.set(head, 0);
  frame.set(payload, head.length);
  return frame;
}

/** A binary frame's first part, its header length and JSON header; the payload follows it. */
export function encodeBinaryFrameHead(header: object): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(4 + json.length);
  new DataView(head.buffer).setUint32(0, json.length);
  head.set(json, 4);
  return head;
}

/** A submit frame: the image, then the mask (when given) in the same payload, `maskBytes` saying where it starts. */
export function encodeSubmitFrame(header: Omit<SubmitHeader, 'maskBytes'>, image: Uint8Array, mask?: Uint8Array): Uint8Array {
  if (mask === undefined) return encodeBinaryFrame(header, image);
  const payload = new Uint8Array(image.length + mask.length);
  payload.set(image, 0);
  payload.set(mask, image.length);
  return encodeBinaryFrame({ ...header, maskBytes: mask.length }, payload);
}

/** A submit's payload as image and mask (views, not copies); throws an Error when `maskBytes` does not fit. */
export function splitSubmitPayload(header: Pick<SubmitHeader, 'maskBytes'>, payload: Uint8Array): { image: Uint8Array; mask?: Uint8Array } {
  const maskBytes = header.maskBytes ?? 0;
  if (maskBytes === 0) return { image: payload };
  if (maskBytes >= payload.length) throw new Error(`maskBytes is ${maskBytes} but the payload has ${payload.length} bytes, which must hold the image and then the mask`);
  return { image: payload.subarray(0, payload.length - maskBytes), mask: payload.subarray(payload.length - maskBytes) };
}

/** Splits a binary frame; throws an Error saying what is malformed. */
export function decodeBinaryFrame(frame: Uint8Array): { header: unknown; payload: Uint8Array } {
  if (frame.length < 4) throw new Error('binary frame shorter than its 4-byte header length');
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  if (4 + length > frame.length) throw new Error(`binary frame header length ${length} runs past the frame (${frame.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.subarray(4, 4 + length)));
  } catch {
    throw new Error('binary frame header is not UTF-8 JSON');
  }
  return { header, payload: frame.subarray(4 + length) };
}
