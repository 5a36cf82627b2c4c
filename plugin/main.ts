// The plugin's main thread (Figma sandbox), entry point for create-figma-plugin. Thin wiring only: the
// logic lives in the modules it calls, which take the API as a parameter and are tested with a mock.
import { emit, on, showUI } from '@create-figma-plugin/utilities';
import { describeSelection, whyNotEditable } from './describe-selection.ts';
import { exportNodeAsync } from './export-node-async.ts';
import type { FigmaApi } from './figma-api.ts';
import { findProvenanceOfSelection } from './find-provenance-of-selection.ts';
import { placeResultAsync } from './place-result-async.ts';
import type {
  ExportedImage,
  ExportedImagesHandler,
  ExportSelectionHandler,
  NotifyHandler,
  PlaceResultHandler,
  ProvenanceOfSelectionHandler,
  RequestSelectionHandler,
  ResultPlacedHandler,
  SelectionChangedHandler,
} from './types.ts';

export default function () {
  const api: FigmaApi = figma;

  function emitSelection(): void {
    const selection = figma.currentPage.selection;
    emit<SelectionChangedHandler>('SELECTION_CHANGED', describeSelection(selection));
    emit<ProvenanceOfSelectionHandler>('PROVENANCE_OF_SELECTION', findProvenanceOfSelection(selection));
  }

  function reportError(what: string, error: unknown): void {
    figma.notify(`${what}: ${error instanceof Error ? error.message : String(error)}`, { error: true });
  }

  on<RequestSelectionHandler>('REQUEST_SELECTION', emitSelection);

  on<ExportSelectionHandler>('EXPORT_SELECTION', ({ maxSide }) => {
    const nodes = figma.currentPage.selection.filter((node) => whyNotEditable(node) === undefined);
    (async () => {
      const items: ExportedImage[] = [];
      for (const node of nodes) items.push(await exportNodeAsync(node, maxSide));
      emit<ExportedImagesHandler>('EXPORTED_IMAGES', { items });
    })().catch((error: unknown) => reportError('Export failed', error));
  });

  on<PlaceResultHandler>('PLACE_RESULT', (request) => {
    placeResultAsync(api, request)
      .then((outcome) => {
        if (!outcome.placed) return;
        emit<ResultPlacedHandler>('RESULT_PLACED', { nodeId: outcome.nodeId, sourceNodeId: outcome.sourceNodeId });
        // Replacing fills keeps the selection, so no selectionchange event tells the UI about the new provenance.
        emitSelection();
      })
      .catch((error: unknown) => reportError('Placing the result failed', error));
  });

  on<NotifyHandler>('NOTIFY', ({ message, error }) => {
    figma.notify(message, { error: error === true });
  });

  figma.on('selectionchange', emitSelection);
  figma.on('currentpagechange', emitSelection);
  showUI({ width: 360, height: 560 });
}
