// A typed mock of exactly the FigmaApi subset the plugin modules use: nodes are plain objects that keep
// what is written to them, and the API records every call the tests check. Frames made with createFrame
// export a real PNG of what they hold (solid fills, boxes and ellipses, opacity), as Figma would draw it,
// so the region mask is checked pixel by pixel; other nodes export a PNG header of the right size only.
import sharp from 'sharp';
import type { CanvasFrame, CanvasNode, CanvasParent, CanvasRectangle, FigmaApi } from '../../plugin/figma-api.ts';
import { invertAffine, multiplyAffine } from '../../plugin/private/affine-transform.ts';
import type { Provenance } from '../../plugin/types.ts';

/** The smallest byte string that reads as a PNG of the given size (signature + IHDR; no image data). */
export function fakePng(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return bytes;
}

export interface MockParent extends CanvasParent {
  children: CanvasNode[];
}

export interface MockNode extends CanvasNode {
  parent: MockParent | null;
  pluginData: Map<string, string>;
  exportCalls: ExportSettingsImage[];
  /** Set by remove(); getNodeByIdAsync then finds nothing, as in Figma. */
  removed: boolean;
  /** The rotation/skew part of relativeTransform ([a, c, b, d]); x and y are its translation. */
  linear: [number, number, number, number];
  strokes: ReadonlyArray<Paint>;
  effects: ReadonlyArray<Effect>;
  opacity: number;
  isMask: boolean;
}

/** A frame or group that holds layers: a node and a parent at once. */
export type MockContainer = MockNode & MockParent;

export interface MockFrame extends MockContainer {
  fills: CanvasFrame['fills'];
  clipsContent: boolean;
  resize: CanvasFrame['resize'];
  appendChild: CanvasFrame['appendChild'];
  exportAsync: CanvasFrame['exportAsync'];
}

export interface MockRectangle extends MockNode {
  fills: CanvasRectangle['fills'];
  resize: CanvasRectangle['resize'];
  resizeCalls: Array<[number, number]>;
}

let nextId = 1;

/** A parent without a position of its own (a page, or a frame at the page's origin). */
export function makeParent(type: BaseNode['type'] = 'FRAME', parentOfParent: MockParent | null = null): MockParent {
  const parent: MockParent = {
    id: `${nextId++}:0`,
    type,
    parent: parentOfParent,
    children: [],
    insertChild: (index, child) => insertInto(parent, index, child),
  };
  return parent;
}

function insertInto(parent: MockParent, index: number, child: CanvasNode): void {
  const node = child as MockNode;
  if (node.parent) node.parent.children.splice(node.parent.children.indexOf(node), 1);
  parent.children.splice(index, 0, node);
  node.parent = parent;
}

export interface NodeOptions {
  id?: string;
  name?: string;
  type?: SceneNode['type'];
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  /** false: no exportAsync, like nodes Figma cannot export. */
  exportable?: boolean;
  /** false: no fills property, like groups. */
  hasFills?: boolean;
  fills?: ReadonlyArray<Paint>;
  visible?: boolean;
  /** Rotation in degrees, clockwise on screen as in Figma's UI (about the node's top-left corner). */
  rotation?: number;
  parent?: MockParent;
}

export function makeNode(options: NodeOptions = {}): MockNode {
  const radians = ((options.rotation ?? 0) * Math.PI) / 180;
  const node: MockNode = {
    id: options.id ?? `${nextId++}:1`,
    name: options.name ?? 'Frame',
    type: options.type ?? 'FRAME',
    x: options.x ?? 0,
    y: options.y ?? 0,
    width: options.width ?? 100,
    height: options.height ?? 100,
    parent: null,
    visible: options.visible ?? true,
    removed: false,
    linear: [Math.cos(radians), -Math.sin(radians), Math.sin(radians), Math.cos(radians)],
    strokes: [],
    effects: [],
    opacity: 1,
    isMask: false,
    pluginData: new Map(),
    exportCalls: [],
    get relativeTransform(): Transform {
      const [a, c, b, d] = node.linear;
      return [
        [a, c, node.x],
        [b, d, node.y],
      ];
    },
    set relativeTransform(transform: Transform) {
      node.linear = [transform[0][0], transform[0][1], transform[1][0], transform[1][1]];
      node.x = transform[0][2];
      node.y = transform[1][2];
    },
    get absoluteTransform(): Transform {
      // Parents made with makeParent sit at the page's origin; container nodes have their own transform.
      const parent = node.parent as Partial<MockNode> | null;
      return parent?.absoluteTransform ? multiplyAffine(parent.absoluteTransform, node.relativeTransform) : node.relativeTransform;
    },
    clone() {
      const copy = makeNode({ name: node.name, type: node.type, width: node.width, height: node.height, hasFills: node.fills !== undefined });
      Object.assign(copy, { fills: node.fills, strokes: node.strokes, effects: node.effects, opacity: node.opacity, isMask: node.isMask, visible: node.visible });
      copy.relativeTransform = node.relativeTransform;
      // Like Figma: the copy lands in the original's parent, just above it.
      if (node.parent) node.parent.insertChild(node.parent.children.indexOf(node) + 1, copy);
      return copy;
    },
    remove() {
      if (node.parent) node.parent.children.splice(node.parent.children.indexOf(node), 1);
      node.parent = null;
      node.removed = true;
    },
    getPluginData(key) {
      return node.pluginData.get(key) ?? '';
    },
    setPluginData(key, value) {
      node.pluginData.set(key, value);
    },
  };
  if (options.fills !== undefined) node.fills = options.fills;
  else if (options.hasFills !== false) node.fills = [];
  if (options.exportable !== false) {
    node.exportAsync = async (settings) => {
      node.exportCalls.push(settings);
      const c = settings.constraint ?? { type: 'SCALE', value: 1 };
      const scale = c.type === 'SCALE' ? c.value : c.type === 'WIDTH' ? c.value / node.width : c.value / node.height;
      return fakePng(Math.round(node.width * scale), Math.round(node.height * scale));
    };
  }
  if (options.parent) options.parent.insertChild(options.parent.children.length, node);
  return node;
}

/** A frame or group holding layers; children's x/y are relative to it. */
export function makeContainer(options: NodeOptions = {}): MockContainer {
  const container = makeNode(options) as MockContainer;
  container.children = [];
  container.insertChild = (index, child) => insertInto(container, index, child);
  return container;
}

/** A shape filled with an image: what designers call an image layer. */
export const IMAGE_FILL: ImagePaint = { type: 'IMAGE', imageHash: 'photo', scaleMode: 'FILL' };

/**
 * Draws a frame the way Figma would at this export setting, without anti-aliasing: its first solid fill,
 * then each visible child that is not a mask: ellipses as ellipses, every other shape as its box, in its
 * first visible solid fill blended by its opacity. Pixels are sampled at their centres.
 */
async function renderFrameAsync(frame: MockFrame, settings: ExportSettingsImage): Promise<Uint8Array> {
  const c = settings.constraint ?? { type: 'SCALE', value: 1 };
  const scale = c.type === 'SCALE' ? c.value : c.type === 'WIDTH' ? c.value / frame.width : c.value / frame.height;
  const width = Math.round(frame.width * scale);
  const height = Math.round(frame.height * scale);
  const pixels = new Uint8Array(width * height * 3);
  const colorOf = (paints: ReadonlyArray<Paint> | undefined): RGB | undefined =>
    (paints?.find((paint) => paint.type === 'SOLID' && paint.visible !== false) as SolidPaint | undefined)?.color;
  const background = colorOf(frame.fills as ReadonlyArray<Paint>) ?? { r: 1, g: 1, b: 1 };
  for (let i = 0; i < width * height; i++) pixels.set([background.r, background.g, background.b].map((v) => Math.round(v * 255)), i * 3);
  for (const child of frame.children as MockNode[]) {
    const color = colorOf(child.fills as ReadonlyArray<Paint>);
    if (!child.visible || child.isMask || color === undefined) continue;
    const [[a, c2, e], [b, d, f]] = invertAffine(child.relativeTransform);
    for (let py = 0; py < height; py++) {
      for (let px = 0; px < width; px++) {
        const x = (px + 0.5) / scale;
        const y = (py + 0.5) / scale;
        const lx = a * x + c2 * y + e;
        const ly = b * x + d * y + f;
        const inside =
          child.type === 'ELLIPSE'
            ? ((lx - child.width / 2) / (child.width / 2)) ** 2 + ((ly - child.height / 2) / (child.height / 2)) ** 2 <= 1
            : lx >= 0 && lx < child.width && ly >= 0 && ly < child.height;
        if (!inside) continue;
        const at = (py * width + px) * 3;
        const rgb = [color.r, color.g, color.b];
        for (let k = 0; k < 3; k++) pixels[at + k] = Math.round(rgb[k] * 255 * child.opacity + pixels[at + k] * (1 - child.opacity));
      }
    }
  }
  return new Uint8Array(await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer());
}

export interface MockFigma extends FigmaApi {
  readonly currentPage: { id: string; selection: ReadonlyArray<CanvasNode> };
  readonly page: MockParent;
  readonly calls: {
    notify: Array<{ message: string; options?: NotificationOptions }>;
    commitUndo: number;
    createImage: Uint8Array[];
    scrollAndZoomIntoView: Array<ReadonlyArray<unknown>>;
    createRectangle: MockRectangle[];
    createFrame: MockFrame[];
    setCurrentPageAsync: CanvasParent[];
  };
  /** Makes a node findable by getNodeByIdAsync. */
  register(...nodes: MockNode[]): void;
}

export function makeFigma(): MockFigma {
  const page = makeParent('PAGE');
  const registry = new Map<string, MockNode>();
  const calls: MockFigma['calls'] = { notify: [], commitUndo: 0, createImage: [], scrollAndZoomIntoView: [], createRectangle: [], createFrame: [], setCurrentPageAsync: [] };
  const figma: MockFigma = {
    currentPage: { id: page.id, selection: [] },
    page,
    calls,
    mixed: Symbol('mixed') as PluginAPI['mixed'],
    viewport: {
      scrollAndZoomIntoView(nodes) {
        calls.scrollAndZoomIntoView.push(nodes);
      },
    },
    register(...nodes) {
      for (const node of nodes) registry.set(node.id, node);
    },
    async getNodeByIdAsync(id) {
      const node = registry.get(id);
      return node === undefined || node.removed ? null : node;
    },
    async setCurrentPageAsync(target) {
      calls.setCurrentPageAsync.push(target);
      // Like Figma, a page change clears what was selected on the old page.
      figma.currentPage.id = target.id;
      figma.currentPage.selection = [];
    },
    createImage(bytes) {
      calls.createImage.push(bytes);
      // Like Figma: over 4096 px a side it throws.
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (bytes.length >= 24 && (view.getUint32(16) > 4096 || view.getUint32(20) > 4096)) throw new Error('Image is too large');
      return { hash: `hash-${calls.createImage.length}` };
    },
    createRectangle() {
      const base = makeNode({ name: 'Rectangle', type: 'RECTANGLE', width: 100, height: 100, parent: page });
      const rect = Object.assign(base, {
        fills: [] as ReadonlyArray<Paint>,
        resizeCalls: [] as Array<[number, number]>,
        resize(width: number, height: number) {
          rect.resizeCalls.push([width, height]);
          Object.assign(rect, { width, height });
        },
      });
      calls.createRectangle.push(rect);
      registry.set(rect.id, rect);
      return rect;
    },
    createFrame() {
      const frame = makeContainer({ name: 'Frame', type: 'FRAME', width: 100, height: 100, parent: page }) as MockFrame;
      Object.assign(frame, {
        fills: [{ type: 'SOLID', color: { r: 1, g: 1, b: 1 } }] as ReadonlyArray<Paint>,
        clipsContent: true,
        resize(width: number, height: number) {
          Object.assign(frame, { width, height });
        },
        appendChild(child: CanvasNode) {
          frame.insertChild(frame.children.length, child);
        },
        async exportAsync(settings: ExportSettingsImage) {
          frame.exportCalls.push(settings);
          return renderFrameAsync(frame, settings);
        },
      });
      calls.createFrame.push(frame);
      registry.set(frame.id, frame);
      return frame;
    },
    commitUndo() {
      calls.commitUndo++;
    },
    notify(message, options) {
      calls.notify.push({ message, options });
    },
  };
  return figma;
}

export function makeProvenance(overrides: Partial<Provenance> = {}): Provenance {
  return {
    instruction: 'make the sky a sunset',
    expressiveInstruction: 'turn the blue sky into an orange and pink sunset with warm light',
    seed: 42,
    parameters: { steps: 20, guidanceScale: 7.5, imageGuidanceScale: 1.5, size: 512, seed: 42, scheduler: 'euler-ancestral' },
    model: 'mgie-7b',
    sourceNodeId: '1:1',
    createdAt: '2025-01-02T03:04:05.000Z',
    ...overrides,
  };
}
