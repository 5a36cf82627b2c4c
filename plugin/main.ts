// The plugin's main thread (Figma sandbox), entry point for create-figma-plugin. Thin wiring only: the
// logic lives in the modules it calls, which take the API as a parameter and are tested with a mock.
import { emit, loadSettingsAsync, on, saveSettingsAsync, showUI } from '@create-figma-plugin/utilities';
import { clampWindowSize } from './clamp-window-size.ts';
import { createChainAnchors } from './create-chain-anchors.ts';
import { createPlacedResultSelector } from './create-placed-result-selector.ts';
import { createSettingsWriter } from './create-settings-writer.ts';
import { describeSelection } from './describe-selection.ts';
import { exportNodeForEditAsync, exportSelectionForEditAsync } from './export-for-edit-async.ts';
import type { FigmaApi } from './figma-api.ts';
import { findProvenanceOfSelection } from './find-provenance-of-selection.ts';
import { placeResultAsync } from './place-result-async.ts';
import { showNodeOnCanvasAsync } from './show-node-on-canvas-async.ts';
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
  type ResizeWindowHandler,
  type ResultNotPlacedHandler,
  type ResultPlacedHandler,
  type SaveSettingsHandler,
  type SelectionChangedHandler,
  type SelectNodeHandler,
  SETTINGS_KEY,
  type ShowUiData,
} from './types.ts';

export default async function () {
  const api: FigmaApi = figma;
  const settingsWriter = createSettingsWriter({
    loadAsync: () => loadSettingsAsync<PluginSettings>(DEFAULT_SETTINGS, SETTINGS_KEY),
    saveAsync: (settings) => saveSettingsAsync<PluginSettings>(settings, SETTINGS_KEY),
  });
  const placedResultSelector = createPlacedResultSelector(api, { setTimeout: (callback, ms) => setTimeout(callback, ms), clearTimeout: (handle) => clearTimeout(handle as number) });
  const chainAnchors = createChainAnchors();
  // Main owns the window size: it is what the last RESIZE_WINDOW asked for, whatever a SAVE_SETTINGS says.
  let windowSize = DEFAULT_SETTINGS.windowSize;

  function saveSettings(change: (saved: PluginSettings) => PluginSettings): void {
    settingsWriter.updateAsync(change).catch((error: unknown) => figma.notify(`Could not save the MGIE settings: ${messageOf(error)}`, { error: true }));
  }

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
    placeResultAsync(api, request, { besideNodeId: chainAnchors.anchorFor(request) })
      .then((outcome) => {
        if (!outcome.placed) {
          emit<ResultNotPlacedHandler>('RESULT_NOT_PLACED', { jobId, reason: outcome.reason });
          return;
        }
        chainAnchors.remember(request, outcome.nodeId);
        emit<ResultPlacedHandler>('RESULT_PLACED', { jobId, nodeId: outcome.nodeId, sourceNodeId: outcome.sourceNodeId });
        // 'stay' (the default) leaves the designer's selection and view alone.
        if (request.afterPlacing === 'select') placedResultSelector.add(outcome.nodeId);
        // Replacing fills keeps the selection, so no selectionchange event tells the UI about the new provenance.
        emitSelection();
      })
      .catch((error: unknown) => {
        figma.notify(`Placing the result failed: ${messageOf(error)}`, { error: true });
        emit<ResultNotPlacedHandler>('RESULT_NOT_PLACED', { jobId, reason: messageOf(error) });
      });
  });

  on<SaveSettingsHandler>('SAVE_SETTINGS', (settings) => saveSettings(() => ({ ...settings, windowSize })));

  on<SelectNodeHandler>('SELECT_NODE', ({ nodeId }) => {
    showNodeOnCanvasAsync(api, nodeId).catch((error: unknown) => figma.notify(`Could not show the layer: ${messageOf(error)}`, { error: true }));
  });

  on<ResizeWindowHandler>('RESIZE_WINDOW', (size) => {
    windowSize = clampWindowSize(size);
    figma.ui.resize(windowSize.width, windowSize.height);
    saveSettings((saved) => ({ ...saved, windowSize }));
  });

  on<NotifyHandler>('NOTIFY', ({ message, error }) => {
    figma.notify(message, { error: error === true });
  });

  figma.on('selectionchange', emitSelection);
  figma.on('currentpagechange', emitSelection);
  const saved = await loadSettingsAsync<PluginSettings>(DEFAULT_SETTINGS, SETTINGS_KEY);
  windowSize = clampWindowSize(saved.windowSize);
  const settings: PluginSettings = { ...saved, windowSize };
  showUI<ShowUiData>({ ...windowSize, title: 'MGIE' }, { settings });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
