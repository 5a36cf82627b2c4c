// The plugin's main thread (Figma sandbox), entry point for create-figma-plugin. Thin wiring only: the
// logic lives in the modules it calls, which take the API as a parameter and are tested with a mock.
import { emit, loadSettingsAsync, on, saveSettingsAsync, showUI } from '@create-figma-plugin/utilities';
import { describeSelection } from './describe-selection.ts';
import { exportNodeForEditAsync, exportSelectionForEditAsync } from './export-for-edit-async.ts';
import type { FigmaApi } from './figma-api.ts';
import { findProvenanceOfSelection } from './find-provenance-of-selection.ts';
import { placeResultAsync } from './place-result-async.ts';
import {
  DEFAULT_SETTINGS,
  type ExportedImage,
  type ExportedImagesHandler,
  type ExportFailedHandler,
  type ExportNodeHandler,
  type ExportSelectionHandler,
  type NotifyHandler,
  type PlaceResultHandler,
  type PluginSettings,
  type ProvenanceOfSelectionHandler,
  type RequestSelectionHandler,
  type ResultNotPlacedHandler,
  type ResultPlacedHandler,
  type SaveSettingsHandler,
  type SelectionChangedHandler,
  SETTINGS_KEY,
  type ShowUiData,
} from './types.ts';

export default async function () {
  const api: FigmaApi = figma;

  function emitSelection(): void {
    const selection = figma.currentPage.selection;
    emit<SelectionChangedHandler>('SELECTION_CHANGED', describeSelection(selection));
    emit<ProvenanceOfSelectionHandler>('PROVENANCE_OF_SELECTION', findProvenanceOfSelection(selection));
  }

  function answerExport(requestId: string, exporting: Promise<ExportedImage[]>): void {
    exporting
      .then((items) => emit<ExportedImagesHandler>('EXPORTED_IMAGES', { requestId, items }))
      .catch((error: unknown) => emit<ExportFailedHandler>('EXPORT_FAILED', { requestId, message: messageOf(error) }));
  }

  on<RequestSelectionHandler>('REQUEST_SELECTION', emitSelection);
  on<ExportSelectionHandler>('EXPORT_SELECTION', ({ requestId, maxSide }) => answerExport(requestId, exportSelectionForEditAsync(api, maxSide)));
  on<ExportNodeHandler>('EXPORT_NODE', ({ requestId, nodeId, maxSide }) =>
    answerExport(requestId, exportNodeForEditAsync(api, nodeId, maxSide).then((image) => [image])),
  );

  on<PlaceResultHandler>('PLACE_RESULT', (request) => {
    const { jobId } = request;
    placeResultAsync(api, request)
      .then((outcome) => {
        if (!outcome.placed) {
          emit<ResultNotPlacedHandler>('RESULT_NOT_PLACED', { jobId, reason: outcome.reason });
          return;
        }
        emit<ResultPlacedHandler>('RESULT_PLACED', { jobId, nodeId: outcome.nodeId, sourceNodeId: outcome.sourceNodeId });
        // Replacing fills keeps the selection, so no selectionchange event tells the UI about the new provenance.
        emitSelection();
      })
      .catch((error: unknown) => {
        figma.notify(`Placing the result failed: ${messageOf(error)}`, { error: true });
        emit<ResultNotPlacedHandler>('RESULT_NOT_PLACED', { jobId, reason: messageOf(error) });
      });
  });

  on<SaveSettingsHandler>('SAVE_SETTINGS', (settings) => {
    saveSettingsAsync<PluginSettings>(settings, SETTINGS_KEY).catch((error: unknown) =>
      figma.notify(`Could not save the MGIE settings: ${messageOf(error)}`, { error: true }),
    );
  });

  on<NotifyHandler>('NOTIFY', ({ message, error }) => {
    figma.notify(message, { error: error === true });
  });

  figma.on('selectionchange', emitSelection);
  figma.on('currentpagechange', emitSelection);
  const settings = await loadSettingsAsync<PluginSettings>(DEFAULT_SETTINGS, SETTINGS_KEY);
  showUI<ShowUiData>({ width: 360, height: 600, title: 'MGIE' }, { settings });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
