// Messages between the plugin's main thread (Figma sandbox) and its UI (iframe), declared once here and
// imported by both sides (house style, from create-figma-plugin). Payloads are structured clones: images
// travel as Uint8Array as they are. `emit`/`on` throw on an event nobody handles, so the UI must register
// a handler for every main -> UI event below.
import type { EventHandler } from '@create-figma-plugin/utilities';
import type { JobParameters } from '../companion-server/protocol/messages.ts';

/** figma.createImage refuses images over 4096 px on a side (field notes, "Figma plugin platform"). */
export const MAX_IMAGE_SIDE = 4096;

/** Where an edited image came from; stored as JSON in the plugin data key below on the placed node. */
export interface Provenance {
  instruction: string;
  /** The MLLM's expressive rewrite of the instruction (ResultHeader.expressiveInstruction). */
  expressiveInstruction: string;
  seed: number;
  parameters: JobParameters;
  model: string;
  /** The node that was exported and edited. */
  sourceNodeId: string;
  /** ISO 8601. */
  createdAt: string;
  /** 'given': the designer wrote the expressive instruction (teacher forcing); 'model': MGIE did. */
  expressiveInstructionSource?: 'model' | 'given';
  /** A shape over the source limited the edit to its area (Regions). */
  masked?: boolean;
  /** Chains: every instruction of the chain in order (`instruction` is the first) and this result's step (1-based). */
  chain?: string[];
  chainStep?: number;
  /** Variations: which one of how many was placed. */
  variation?: number;
  variations?: number;
}

export const PROVENANCE_KEY = 'mgie.provenance';

export interface SelectionItem {
  nodeId: string;
  name: string;
  width: number;
  height: number;
  /**
   * Regions: when the selection is one frame plus vector layers (shapes) on top of it, the shapes are not
   * items; they limit the edit of this item to their area. Their names, for the UI ("only under Circle").
   */
  regionShapeNames?: string[];
}

export interface SelectionDescription {
  /** The selected nodes that can be edited, in selection order. */
  items: SelectionItem[];
  /** Set when nothing editable is selected or some selected nodes cannot be edited; says which. */
  problem?: string;
}

export interface ExportedImage {
  nodeId: string;
  name: string;
  png: Uint8Array;
  /** Pixel size of `png`. */
  width: number;
  height: number;
  /** Regions: a PNG of the same pixel size, white where the shapes are (edit), black elsewhere (keep). */
  mask?: Uint8Array;
}

/**
 * 'beside': a new rectangle the size of the source node, to its right in the same parent.
 * 'replace-fills': the source node's fills become the image.
 */
export type Placement = 'beside' | 'replace-fills';

export interface PlaceResultRequest {
  /** The server's job id; echoed in ResultPlaced / ResultNotPlaced so the UI can match the answer. */
  jobId: string;
  /**
   * The edited PNG. Contract: the UI sends at most MAX_IMAGE_SIDE (4096) px on each side, downscaling in
   * the iframe (it has a canvas; the sandbox has none). Main refuses larger images with a notification.
   */
  png: Uint8Array;
  width: number;
  height: number;
  provenance: Provenance;
  placement: Placement;
  /** settings.afterPlacing; absent means 'stay'. */
  afterPlacing?: AfterPlacing;
}

/**
 * What placing a result does to the designer's selection and view. 'stay' (the default): nothing; the
 * result appears beside its source and the UI offers "Show on canvas". 'select': the placed result is
 * selected and scrolled into view (once per batch, not once per layer).
 */
export type AfterPlacing = 'stay' | 'select';

/** Chains: place only the final result, or every step's (each beside the previous). */
export type ChainPlacement = 'final' | 'every-step';

export interface WindowSize {
  width: number;
  height: number;
}

/** The plugin window's size limits (figma.ui.resize); the default is the smallest. */
export const DEFAULT_WINDOW_SIZE: WindowSize = { width: 360, height: 600 };
export const MIN_WINDOW_SIZE: WindowSize = { width: 320, height: 420 };
export const MAX_WINDOW_SIZE: WindowSize = { width: 1200, height: 1400 };

/**
 * 'default': the model's own defaults from the server, a new random seed each time.
 * 'reference': the settings of the MGIE paper's demo (mgie-reference.md), seed included, so an edit can
 * be compared with the reference implementation. 'custom': the values below.
 */
export type ParameterPreset = 'default' | 'reference' | 'custom';

export interface ParameterSettings {
  preset: ParameterPreset;
  steps: number;
  guidanceScale: number;
  imageGuidanceScale: number;
  /** Long side of the edit in px in size mode 'fit' (the result comes back at the exported size). */
  size: number;
  /**
   * 'fit': the long side scaled to `size`; 'native': the exported image's own size, as the MGIE notebook
   * edits (the export is then capped at the server's edit size limit). Neither stretches the image.
   */
  sizeMode: 'fit' | 'native';
  /** 'random': the server picks a new seed per edit; 'fixed': `seed`, so an edit can be repeated. */
  seedMode: 'random' | 'fixed';
  seed: number;
}

export const REFERENCE_PARAMETERS: ParameterSettings = {
  preset: 'reference',
  steps: 100,
  guidanceScale: 7.5,
  imageGuidanceScale: 1.5,
  size: 512,
  // The notebook edits each image at its own size (its demo inputs are 512x512).
  sizeMode: 'native',
  seedMode: 'fixed',
  seed: 13331,
};

/** What the plugin remembers per user in figma.clientStorage (settings only: never images). */
export interface PluginSettings {
  /** Where the companion server listens, e.g. http://localhost:8765 or https://gpu-box.example.com. */
  serverUrl: string;
  /** The token the server printed at its first start. */
  token: string;
  parameters: ParameterSettings;
  placement: Placement;
  /** Most recent first. */
  recentInstructions: string[];
  afterPlacing: AfterPlacing;
  chainPlacement: ChainPlacement;
  /** The window's size as the designer last left it. */
  windowSize: WindowSize;
}

export const DEFAULT_SERVER_URL = 'http://localhost:8765';
export const MAX_RECENT_INSTRUCTIONS = 10;

export const DEFAULT_SETTINGS: PluginSettings = {
  serverUrl: DEFAULT_SERVER_URL,
  token: '',
  parameters: { ...REFERENCE_PARAMETERS, preset: 'default', sizeMode: 'fit', seedMode: 'random' },
  placement: 'beside',
  recentInstructions: [],
  afterPlacing: 'stay',
  chainPlacement: 'final',
  windowSize: DEFAULT_WINDOW_SIZE,
};

export const SETTINGS_KEY = 'mgie.settings.v1';

/** What main passes to the UI when it opens it (create-figma-plugin's showUI data). */
export type ShowUiData = {
  settings: PluginSettings;
};

// ---- UI -> main ------------------------------------------------------------------------------

/** Ask main for a SelectionChanged now (e.g. when the UI mounts). */
export interface RequestSelectionHandler extends EventHandler {
  name: 'REQUEST_SELECTION';
  handler: () => void;
}

/**
 * Export the editable selected nodes as PNG, long side at most `maxSide` px. Answered by ExportedImages
 * or ExportFailed with the same requestId.
 */
export interface ExportSelectionHandler extends EventHandler {
  name: 'EXPORT_SELECTION';
  handler: (request: { requestId: string; maxSide: number }) => void;
}

/** Export one node by id (a variation re-exports the original); answered like ExportSelection. */
export interface ExportNodeHandler extends EventHandler {
  name: 'EXPORT_NODE';
  handler: (request: { requestId: string; nodeId: string; maxSide: number }) => void;
}

/** Remember the settings in figma.clientStorage. */
export interface SaveSettingsHandler extends EventHandler {
  name: 'SAVE_SETTINGS';
  handler: (settings: PluginSettings) => void;
}

/** Place an edited image; answered by ResultPlaced on success, by a Figma notification otherwise. */
export interface PlaceResultHandler extends EventHandler {
  name: 'PLACE_RESULT';
  handler: (request: PlaceResultRequest) => void;
}

/** Select this node and scroll it into view ("Show on canvas"); main notifies when it is gone. */
export interface SelectNodeHandler extends EventHandler {
  name: 'SELECT_NODE';
  handler: (request: { nodeId: string }) => void;
}

/** The resize handle: main clamps to MIN/MAX_WINDOW_SIZE, calls figma.ui.resize and remembers the size. */
export interface ResizeWindowHandler extends EventHandler {
  name: 'RESIZE_WINDOW';
  handler: (size: WindowSize) => void;
}

/** Show a Figma toast (cut at 100 characters by Figma). */
export interface NotifyHandler extends EventHandler {
  name: 'NOTIFY';
  handler: (notification: { message: string; error?: boolean }) => void;
}

// ---- main -> UI ------------------------------------------------------------------------------

/** Sent on every selection change and on RequestSelection. */
export interface SelectionChangedHandler extends EventHandler {
  name: 'SELECTION_CHANGED';
  handler: (selection: SelectionDescription) => void;
}

export interface ExportedImagesHandler extends EventHandler {
  name: 'EXPORTED_IMAGES';
  handler: (result: { requestId: string; items: ExportedImage[] }) => void;
}

/** `message` is for the designer: what went wrong and what to do. */
export interface ExportFailedHandler extends EventHandler {
  name: 'EXPORT_FAILED';
  handler: (result: { requestId: string; message: string }) => void;
}

export interface ResultPlacedHandler extends EventHandler {
  name: 'RESULT_PLACED';
  handler: (result: { jobId: string; nodeId: string; sourceNodeId: string }) => void;
}

/** Main refused the result (and told the designer with a notification). */
export interface ResultNotPlacedHandler extends EventHandler {
  name: 'RESULT_NOT_PLACED';
  handler: (result: { jobId: string; reason: string }) => void;
}

/**
 * Sent after every SelectionChanged: the provenance of the selection when exactly one node carrying valid
 * provenance is selected (the UI offers "variation" and "edit again"), otherwise null (the UI hides them).
 */
export interface ProvenanceOfSelectionHandler extends EventHandler {
  name: 'PROVENANCE_OF_SELECTION';
  handler: (selected: { nodeId: string; provenance: Provenance } | null) => void;
}
