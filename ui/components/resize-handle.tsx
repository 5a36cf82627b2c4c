// The bottom-right corner handle: dragging it asks main to resize the plugin window (figma.ui.resize
// has no handle of its own). Sizes go out at most every RESIZE_INTERVAL_MS while dragging, and once more
// at the end so the last one is never dropped; main clamps them and remembers the size.
import { h } from 'preact';
import { useRef } from 'preact/hooks';
import type { WindowSize } from '../../plugin/types.ts';
import styles from '../styles.css';

/** About two frames: smooth enough, without a message per pointer event. */
export const RESIZE_INTERVAL_MS = 32;
/** Arrow keys move the corner by this much (Shift: ten times). */
const KEY_STEP = 10;

/** Keeps the drag's moves coming while the pointer is off the corner; a pointer already gone throws. */
function capture(event: PointerEvent, on: boolean): void {
  const element = event.currentTarget as HTMLElement;
  try {
    if (on) element.setPointerCapture(event.pointerId);
    else if (element.hasPointerCapture(event.pointerId)) element.releasePointerCapture(event.pointerId);
  } catch {
    // Not an active pointer (it was lifted already): the drag still works while over the corner.
  }
}

export function ResizeHandle(props: { size: WindowSize; onResize(size: WindowSize): void }) {
  const drag = useRef<{ x: number; y: number; start: WindowSize; lastSent: number; pending?: WindowSize; timer?: number } | null>(null);

  function flush() {
    const state = drag.current;
    if (state?.pending === undefined) return;
    props.onResize(state.pending);
    state.pending = undefined;
    state.lastSent = Date.now();
  }

  function onPointerDown(event: PointerEvent) {
    event.preventDefault();
    capture(event, true);
    // The window's size now, not the remembered one: main may have clamped it.
    drag.current = { x: event.screenX, y: event.screenY, start: { width: window.innerWidth, height: window.innerHeight }, lastSent: 0 };
  }

  function sizeAt(state: NonNullable<typeof drag.current>, event: PointerEvent): WindowSize {
    return { width: Math.round(state.start.width + event.screenX - state.x), height: Math.round(state.start.height + event.screenY - state.y) };
  }

  function onPointerMove(event: PointerEvent) {
    const state = drag.current;
    if (state === null) return;
    state.pending = sizeAt(state, event);
    const wait = RESIZE_INTERVAL_MS - (Date.now() - state.lastSent);
    if (wait <= 0) flush();
    else if (state.timer === undefined) {
      state.timer = window.setTimeout(() => {
        if (drag.current) drag.current.timer = undefined;
        flush();
      }, wait);
    }
  }

  function onPointerUp(event: PointerEvent) {
    const state = drag.current;
    if (state === null) return;
    capture(event, false);
    if (state.timer !== undefined) clearTimeout(state.timer);
    // Where the pointer was let go, which may be past the last move this window saw.
    state.pending = sizeAt(state, event);
    flush();
    drag.current = null;
  }

  function onKeyDown(event: KeyboardEvent) {
    const step = event.shiftKey ? KEY_STEP * 10 : KEY_STEP;
    const delta = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[event.key];
    if (delta === undefined) return;
    event.preventDefault();
    props.onResize({ width: window.innerWidth + delta[0], height: window.innerHeight + delta[1] });
  }

  return (
    <div
      class={styles.resizeHandle}
      role="separator"
      aria-orientation="horizontal"
      aria-label={`Resize the window (${props.size.width} × ${props.size.height}); arrow keys resize`}
      tabIndex={0}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={onPointerUp}
      onKeyDown={onKeyDown}
      data-testid="resize-handle"
    >
      <svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">
        <path d="M11 3 L3 11 M11 7 L7 11" stroke="currentColor" stroke-width="1.2" fill="none" />
      </svg>
    </div>
  );
}
