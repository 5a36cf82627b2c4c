// afterPlacing 'select': results placed in a burst (a batch over several layers, a chain's steps) are
// selected together and brought into view once, when no further result has come for a short while,
// instead of the view jumping once per layer. Only results on the current page are selected: switching
// page under the designer is more than they asked for.
import type { CanvasNode, FigmaApi } from './figma-api.ts';
import { isCanvasNode, pageOf } from './private/is-canvas-node.ts';

/** Results of one batch arrive within a few ms of each other; 300 ms is still instant to a person. */
export const SELECT_PLACED_DELAY_MS = 300;

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface PlacedResultSelector {
  /** A result was placed with afterPlacing 'select'. */
  add(nodeId: string): void;
  /** Resolves once the pending selection (if any) has been made; for tests and shutdown. */
  flushAsync(): Promise<void>;
}

export function createPlacedResultSelector(figma: FigmaApi, timers: Timers, delayMs = SELECT_PLACED_DELAY_MS): PlacedResultSelector {
  let pending: string[] = [];
  let timer: unknown;

  async function flushAsync(): Promise<void> {
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    const ids = [...new Set(pending)];
    pending = [];
    if (ids.length === 0) return;
    const found = await Promise.all(ids.map((id) => figma.getNodeByIdAsync(id)));
    const nodes: CanvasNode[] = found.filter(isCanvasNode).filter((node) => pageOf(node)?.id === figma.currentPage.id);
    if (nodes.length === 0) return;
    figma.currentPage.selection = nodes;
    figma.viewport.scrollAndZoomIntoView(nodes);
  }

  return {
    add(nodeId) {
      pending.push(nodeId);
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = timers.setTimeout(() => {
        timer = undefined;
        flushAsync().catch((error: unknown) => figma.notify(`Could not select the placed results: ${error instanceof Error ? error.message : String(error)}`));
      }, delayMs);
    },
    flushAsync,
  };
}
