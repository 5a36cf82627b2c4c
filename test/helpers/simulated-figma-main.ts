// The Figma main thread, simulated for the UI tests: it answers the UI's requests the way plugin/main.ts
// does (same event names and payloads from plugin/types.ts), with a real PNG for the "selected layer",
// and records the exports and placements the UI asked for (SAVE_SETTINGS: read it with
// waitForMessageFromUiAsync).
import type { TestContext } from 'node:test';
import type {
  ExportedImage,
  PlaceResultRequest,
  Provenance,
  SelectionDescription,
} from '../../plugin/types.ts';
import { sampleMaskAsync, samplePhotoAsync } from './sample-images.ts';
import type { PluginUi } from './plugin-ui-browser.ts';

export interface SimulatedLayer {
  nodeId: string;
  name: string;
  width: number;
  height: number;
  /** Regions: shapes selected over this layer; its export then carries a mask (main's Regions behaviour). */
  regionShapeNames?: string[];
}

export class SimulatedFigmaMain {
  selection: SimulatedLayer[] = [];
  selectedProvenance: { nodeId: string; provenance: Provenance } | null = null;
  readonly placed: PlaceResultRequest[] = [];
  readonly exportRequests: Array<{ name: string; request: { requestId: string; maxSide: number; nodeId?: string } }> = [];
  /** As main does for a layer without fills (a group): replace-fills is refused with its reason. */
  refuseReplaceFills = false;
  private handled = 0;
  private stopped = false;
  private nextPlacedId = 100;

  private constructor(private readonly ui: PluginUi) {}

  /** Starts answering the UI's messages until the test ends. */
  static start(t: TestContext, ui: PluginUi): SimulatedFigmaMain {
    const main = new SimulatedFigmaMain(ui);
    t.after(() => {
      main.stopped = true;
    });
    void main.loopAsync();
    return main;
  }

  /** Like a selectionchange in Figma. */
  async selectAsync(layers: SimulatedLayer[], provenance: { nodeId: string; provenance: Provenance } | null = null): Promise<void> {
    this.selection = layers;
    this.selectedProvenance = provenance;
    await this.sendSelectionAsync();
  }

  private async sendSelectionAsync(): Promise<void> {
    const description: SelectionDescription =
      this.selection.length > 0 ? { items: this.selection } : { items: [], problem: 'Select a frame, group or image to edit.' };
    await this.ui.sendToUiAsync('SELECTION_CHANGED', description);
    await this.ui.sendToUiAsync('PROVENANCE_OF_SELECTION', this.selectedProvenance);
  }

  private async loopAsync(): Promise<void> {
    while (!this.stopped) {
      let messages: Array<{ name: string; args: unknown[] }>;
      try {
        messages = await this.ui.messagesFromUiAsync();
      } catch {
        return; // the browser closed at the end of the test
      }
      for (const message of messages.slice(this.handled)) {
        this.handled += 1;
        await this.answerAsync(message.name, message.args).catch(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  }

  private async answerAsync(name: string, args: unknown[]): Promise<void> {
    switch (name) {
      case 'REQUEST_SELECTION':
        return this.sendSelectionAsync();
      case 'EXPORT_SELECTION':
      case 'EXPORT_NODE': {
        const request = args[0] as { requestId: string; maxSide: number; nodeId?: string };
        this.exportRequests.push({ name, request });
        const layers = name === 'EXPORT_NODE' ? [{ nodeId: request.nodeId ?? '', name: 'Original', width: 160, height: 120 }] : this.selection;
        const items: ExportedImage[] = [];
        for (const layer of layers) {
          const png = new Uint8Array(await samplePhotoAsync(layer.width, layer.height));
          const { regionShapeNames, ...item } = layer;
          const mask = regionShapeNames === undefined ? undefined : new Uint8Array(await sampleMaskAsync(layer.width, layer.height));
          items.push(mask === undefined ? { ...item, png } : { ...item, png, mask });
        }
        return this.ui.sendToUiAsync('EXPORTED_IMAGES', { requestId: request.requestId, items });
      }
      case 'PLACE_RESULT': {
        const request = args[0] as PlaceResultRequest;
        if (this.refuseReplaceFills && request.placement === 'replace-fills') {
          const layer = this.selection.find((candidate) => candidate.nodeId === request.provenance.sourceNodeId);
          // plugin/place-result-async.ts's words for it
          return this.ui.sendToUiAsync('RESULT_NOT_PLACED', { jobId: request.jobId, reason: `"${layer?.name ?? 'Layer'}" has no fills to replace. Try placing beside it.` });
        }
        this.placed.push(request);
        return this.ui.sendToUiAsync('RESULT_PLACED', { jobId: request.jobId, nodeId: `${this.nextPlacedId++}:1`, sourceNodeId: request.provenance.sourceNodeId });
      }
      default:
        return;
    }
  }
}
