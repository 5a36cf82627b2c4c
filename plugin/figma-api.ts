// The exact part of Figma's plugin API that the plugin's main-thread modules use, so tests can pass a
// typed mock and the modules never touch the global `figma` (only main.ts does; there is no global
// `figma` outside the Figma sandbox). Every type here is cut from @figma/plugin-typings, and
// `RealApiFits` below fails to compile if the real PluginAPI stops fitting it.
// Only the type declarations, not the sandbox globals (`figma`, `setTimeout`...) that would clash with
// @types/node where these modules are type-checked with the tests.
/// <reference path="../node_modules/@figma/plugin-typings/plugin-api.d.ts" />

/** A parent on the canvas (page, frame, group, section...): its children share one coordinate system. */
export interface CanvasParent {
  readonly id: BaseNode['id'];
  readonly type: BaseNode['type'];
  /** Walked up to find a node's page ("Show on canvas" on another page). */
  readonly parent: CanvasParent | null;
  readonly children: ReadonlyArray<CanvasNode>;
  /** Declared as a method: Figma's takes any SceneNode; we only ever pass rectangles it created. */
  insertChild(index: number, child: CanvasNode): void;
}

/** The parts of a SceneNode the plugin reads and writes. x/y are relative to the parent. */
export interface CanvasNode {
  readonly id: SceneNode['id'];
  name: SceneNode['name'];
  readonly type: SceneNode['type'];
  x: number;
  y: number;
  readonly width: number;
  readonly height: number;
  readonly parent: CanvasParent | null;
  /** Regions: shapes over the edited frame are hidden while it is exported. */
  visible: boolean;
  /** Position, rotation and skew in the parent's coordinates. */
  relativeTransform: Transform;
  /** The same in page coordinates: how regions compare boxes across parents and place mask shapes. */
  readonly absoluteTransform: Transform;
  /** Absent on nodes that cannot be duplicated; regions clone their shapes into the mask frame. */
  clone?(): CanvasNode;
  remove(): void;
  /** Absent on nodes Figma cannot export. */
  exportAsync?(settings: ExportSettingsImage): Promise<Uint8Array>;
  /** Absent on nodes without fills (groups, slices...); `figma.mixed` on text with mixed fills. */
  fills?: MinimalFillsMixin['fills'];
  /** Absent on nodes without them; a mask shape drops what would grey its edges or hide it. */
  strokes?: MinimalStrokesMixin['strokes'];
  effects?: BlendMixin['effects'];
  opacity?: BlendMixin['opacity'];
  isMask?: BlendMixin['isMask'];
  getPluginData(key: string): string;
  setPluginData(key: string, value: string): void;
}

/** What `figma.createRectangle()` returns, as far as the plugin uses it. */
export interface CanvasRectangle extends CanvasNode {
  fills: MinimalFillsMixin['fills'];
  resize(width: number, height: number): void;
}

/** What `figma.createFrame()` returns, as far as the region mask uses it. */
export interface CanvasFrame extends CanvasNode {
  fills: MinimalFillsMixin['fills'];
  clipsContent: boolean;
  resize(width: number, height: number): void;
  /** Declared as a method: Figma's takes any SceneNode; we only pass clones it made. */
  appendChild(child: CanvasNode): void;
  exportAsync(settings: ExportSettingsImage): Promise<Uint8Array>;
}

/** Pages and the document: what `getNodeByIdAsync` can return besides scene nodes. */
export interface NonSceneNode {
  readonly id: string;
  readonly type: 'DOCUMENT' | 'PAGE';
}

export interface FigmaApi {
  readonly currentPage: { readonly id: string; selection: ReadonlyArray<CanvasNode> };
  /** With documentAccess 'dynamic-page' the only way to change page. Declared as a method: Figma's takes a PageNode. */
  setCurrentPageAsync(page: CanvasParent): Promise<void>;
  readonly viewport: { scrollAndZoomIntoView(nodes: ReadonlyArray<CanvasNode | NonSceneNode>): void };
  readonly mixed: PluginAPI['mixed'];
  getNodeByIdAsync(id: string): Promise<CanvasNode | NonSceneNode | null>;
  /** Throws for images over 4096 px on a side or bytes it cannot decode. */
  createImage(bytes: Uint8Array): Pick<Image, 'hash'>;
  createRectangle(): CanvasRectangle;
  createFrame(): CanvasFrame;
  commitUndo(): void;
  notify(message: string, options?: NotificationOptions): unknown;
}

type AssertAssignable<T extends U, U> = T;
/** Compile-time check that the real API fits the subset (no runtime value). */
export type RealApiFits = AssertAssignable<PluginAPI, FigmaApi>;
