// A typed mock of exactly the FigmaApi subset the plugin modules use: nodes are plain objects that keep
// what is written to them, and the API records every call the tests check.
import type { CanvasNode, CanvasParent, CanvasRectangle, FigmaApi } from '../../plugin/figma-api.ts';
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
}

export interface MockRectangle extends MockNode {
  fills: CanvasRectangle['fills'];
  resize: CanvasRectangle['resize'];
  resizeCalls: Array<[number, number]>;
}

export function makeParent(type: BaseNode['type'] = 'FRAME'): MockParent {
  const parent: MockParent = {
    type,
    children: [],
    insertChild(index, child) {
      const node = child as MockNode;
      if (node.parent) node.parent.children.splice(node.parent.children.indexOf(node), 1);
      parent.children.splice(index, 0, node);
      node.parent = parent;
    },
  };
  return parent;
}

let nextId = 1;

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
  parent?: MockParent;
}

export function makeNode(options: NodeOptions = {}): MockNode {
  const node: MockNode = {
    id: options.id ?? `${nextId++}:1`,
    name: options.name ?? 'Frame',
    type: options.type ?? 'FRAME',
    x: options.x ?? 0,
    y: options.y ?? 0,
    width: options.width ?? 100,
    height: options.height ?? 100,
    parent: null,
    pluginData: new Map(),
    exportCalls: [],
    getPluginData(key) {
      return node.pluginData.get(key) ?? '';
    },
    setPluginData(key, value) {
      node.pluginData.set(key, value);
    },
  };
  if (options.hasFills !== false) node.fills = [];
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

export interface MockFigma extends FigmaApi {
  readonly currentPage: { selection: ReadonlyArray<CanvasNode> };
  readonly page: MockParent;
  readonly calls: {
    notify: Array<{ message: string; options?: NotificationOptions }>;
    commitUndo: number;
    createImage: Uint8Array[];
    scrollAndZoomIntoView: Array<ReadonlyArray<unknown>>;
    createRectangle: MockRectangle[];
  };
  /** Makes a node findable by getNodeByIdAsync. */
  register(...nodes: MockNode[]): void;
}

export function makeFigma(): MockFigma {
  const page = makeParent('PAGE');
  const registry = new Map<string, MockNode>();
  const calls: MockFigma['calls'] = { notify: [], commitUndo: 0, createImage: [], scrollAndZoomIntoView: [], createRectangle: [] };
  const figma: MockFigma = {
    currentPage: { selection: [] },
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
      return registry.get(id) ?? null;
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
