// The built plugin UI (build/ui.js) in headless Chromium, inside an <iframe sandbox="allow-scripts">
// so that its Origin is null as in Figma, with the Figma main thread played by the test through the
// host page: it records every pluginMessage the UI posts and posts the test's events into the frame.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Frame, type Page } from 'playwright-core';
import { withTeamServers } from '../../build-figma-plugin.manifest.js';

const UI_BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../build/ui.js');
// Figma's color tokens as create-figma-plugin ships them; Figma injects these into the plugin's document
// (themeColors, on by default), and without them the UI has no backgrounds, borders or brand colors.
const THEME_CSS = createRequire(import.meta.url).resolve('@create-figma-plugin/ui/css/theme.css');

export const CHROMIUM_PATH: string | undefined =
  process.env.CHROMIUM_PATH || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

/** For `test(name, { skip: SKIP_WITHOUT_CHROMIUM }, ...)`. */
export const SKIP_WITHOUT_CHROMIUM: string | false =
  CHROMIUM_PATH === undefined ? 'Chromium is not installed (apt-get install chromium); browser tests skipped' : false;

export interface MessageFromUi {
  name: string;
  args: unknown[];
}

export interface PluginUi {
  page: Page;
  /** The UI's sandboxed iframe, loaded. */
  frame: Frame;
  /** Console errors and uncaught errors of the page and the UI frame, in order. */
  consoleErrors: string[];
  /** Like figma.ui.postMessage([name, ...args]) in main; resolves once posted, not once handled. */
  sendToUiAsync(name: string, ...args: unknown[]): Promise<void>;
  /** Everything the UI has emitted so far, in order (the index is the position in this list). */
  messagesFromUiAsync(): Promise<MessageFromUi[]>;
  /** The first message with this name at index >= after (default 0). */
  waitForMessageFromUiAsync(name: string, options?: { timeoutMs?: number; after?: number }): Promise<MessageFromUi & { index: number }>;
  /** Of the iframe only, as the plugin window would look. */
  screenshotAsync(filePath: string): Promise<void>;
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Bytes cross page.evaluate (JSON-like) as { [BYTES]: base64 }, rebuilt into Uint8Array on the other side;
// inside the page, postMessage's structured clone carries them as real Uint8Array.
const BYTES = '__pluginUiHarnessBytes';

type Encoded = unknown;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function encodeForPage(value: unknown): Encoded {
  if (value instanceof Uint8Array) return { [BYTES]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map(encodeForPage);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, encodeForPage(item)]));
  return value;
}

function decodeFromPage(value: Encoded): unknown {
  if (Array.isArray(value)) return value.map(decodeFromPage);
  if (isPlainObject(value)) {
    const bytes = value[BYTES];
    // A plain Uint8Array, not a Buffer, so that deepStrictEqual against new Uint8Array([...]) holds.
    if (typeof bytes === 'string' && Object.keys(value).length === 1) return new Uint8Array(Buffer.from(bytes, 'base64'));
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, decodeFromPage(item)]));
  }
  return value;
}

function escapeAttribute(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
}

/** The document Figma's showUI (create-figma-plugin) builds around the bundle, plus Figma's theme. */
function pluginUiDocument(uiJs: string, showUiData: object, theme: { css: string; className: string } | null): string {
  // Escaping would change the bundle's code; a bundle that can end its own <script> early is a build problem.
  if (/<\/script/i.test(uiJs)) throw new Error(`${UI_BUNDLE} contains "</script", which would end the inline <script> early`);
  // < as \u003c is the same JSON to JavaScript and keeps test data from ending the <script>.
  const data = JSON.stringify(showUiData).replaceAll('<', '\\u003c');
  const themed = theme ? `<style>${theme.css}</style><body class="${theme.className}">` : '';
  // Figma puts its theme class on <html>; create-figma-plugin's theme.css needs it below :root (body).
  const htmlClass = theme ? `document.documentElement.classList.add(${JSON.stringify(theme.className)});` : '';
  return `${themed}<div id="create-figma-plugin"></div><script>${htmlClass}document.body.classList.add('theme-figma');const __FIGMA_COMMAND__='';const __SHOW_UI_DATA__=${data};${uiJs}</script>`;
}

function hostPage(uiDocument: string, width: number, height: number): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>plugin UI harness</title>
<link rel="icon" href="data:,">
<style>html,body{margin:0;background:#d8d8d8}iframe{display:block;margin:16px;border:0;background:transparent}</style>
</head><body>
<iframe id="plugin-ui" sandbox="allow-scripts" width="${width}" height="${height}" srcdoc="${escapeAttribute(uiDocument)}"></iframe>
<script>
(() => {
  const BYTES = ${JSON.stringify(BYTES)};
  const iframe = document.getElementById('plugin-ui');
  const messages = [];
  const isPlain = (v) => v !== null && typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
  const toBase64 = (bytes) => {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  };
  const fromBase64 = (text) => {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  };
  const encode = (v) => {
    if (v instanceof Uint8Array) return { [BYTES]: toBase64(v) };
    if (Array.isArray(v)) return v.map(encode);
    if (isPlain(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
    return v;
  };
  const decode = (v) => {
    if (Array.isArray(v)) return v.map(decode);
    if (isPlain(v)) {
      if (typeof v[BYTES] === 'string' && Object.keys(v).length === 1) return fromBase64(v[BYTES]);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
    }
    return v;
  };
  window.addEventListener('message', (event) => {
    // Only the plugin UI speaks for the plugin, as in Figma.
    if (event.source !== iframe.contentWindow) return;
    const message = event.data && event.data.pluginMessage;
    if (Array.isArray(message) && typeof message[0] === 'string') messages.push(message);
  });
  window.pluginUiHarness = {
    count: () => messages.length,
    indexOf: (name, after) => messages.findIndex((m, i) => i >= after && m[0] === name),
    names: () => messages.map((m) => m[0]),
    read: (from) => messages.slice(from).map(encode),
    send: (encodedMessage) => iframe.contentWindow.postMessage({ pluginMessage: decode(encodedMessage) }, '*'),
  };
})();
</script>
</body></html>`;
}

export interface PluginUiOptions {
  /** figma.showUI's data, __SHOW_UI_DATA__ in the UI. */
  showUiData?: object;
  width?: number;
  height?: number;
  /** Figma's theme color tokens, as Figma injects them; false for the bare document. Default 'light'. */
  theme?: 'light' | 'dark' | false;
  /** Called with the page before the UI loads, e.g. to watch the WebSocket the UI opens at start. */
  beforeLoad?: (page: Page) => void;
  /**
   * Addresses added to the networkAccess list compiled into the bundle, as if it had been built with
   * MGIE_TEAM_SERVER=... (a test server listens on a free port, which no build names).
   */
  extraAllowedDomains?: string[];
}

/** The bundle with more allowed domains in the list build-figma-plugin.ui.js compiled into it. */
async function withAllowedDomainsAsync(uiJs: string, extra: string[]): Promise<string> {
  const pkg = JSON.parse(await readFile(resolve(dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8'));
  const compiled = JSON.stringify(withTeamServers(pkg['figma-plugin'].networkAccess.allowedDomains, process.env.MGIE_TEAM_SERVER));
  if (!uiJs.includes(compiled)) throw new Error(`${UI_BUNDLE} does not hold the allowed domains ${compiled}: rebuild it with npm run build`);
  return uiJs.replace(compiled, JSON.stringify([...JSON.parse(compiled), ...withTeamServers([], extra.join(','))]));
}

export async function openPluginUiAsync(t: TestContext, options: PluginUiOptions = {}): Promise<PluginUi> {
  if (CHROMIUM_PATH === undefined) throw new Error('Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)');
  let uiJs: string;
  try {
    uiJs = await readFile(UI_BUNDLE, 'utf8');
  } catch {
    throw new Error(`${UI_BUNDLE} is missing: run \`npm run build\` first (npm test does it)`);
  }
  if (options.extraAllowedDomains) uiJs = await withAllowedDomainsAsync(uiJs, options.extraAllowedDomains);
  const width = options.width ?? 360;
  const height = options.height ?? 560;
  const themeName = options.theme ?? 'light';
  const theme = themeName ? { css: await readFile(THEME_CSS, 'utf8'), className: `figma-${themeName}` } : null;
  const html = hostPage(pluginUiDocument(uiJs, options.showUiData ?? {}, theme), width, height);

  // A real http origin for the host page; the UI frame itself stays opaque (null) because of the sandbox.
  const server = createServer((request, response) => {
    if (request.url === '/' || request.url === '/index.html') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(html);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((ready, fail) => server.once('error', fail).listen(0, '127.0.0.1', ready));
  t.after(
    () =>
      new Promise<void>((closed) => {
        server.closeAllConnections(); // keep-alive sockets from Chromium would otherwise hold close() open
        server.close(() => closed());
      }),
  );
  const { port } = server.address() as AddressInfo;

  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  t.after(() => browser.close().catch(() => undefined));
  const page = await browser.newPage({ viewport: { width: width + 32, height: height + 32 } });

  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`Uncaught ${error.name}: ${error.message}`));

  options.beforeLoad?.(page);
  // goto waits for the host's load event, which waits for the srcdoc frame's load too.
  await page.goto(`http://127.0.0.1:${port}/`);
  const frame = await page.locator('#plugin-ui').elementHandle().then((handle) => handle?.contentFrame());
  if (!frame) throw new Error('the plugin UI iframe has no frame');
  await frame.waitForLoadState('load');

  // Messages only ever get appended, so decoded ones are kept and only the new ones are read.
  // Reads are chained so that two callers at once (a simulated main loop and a wait) cannot append twice.
  const received: MessageFromUi[] = [];
  let reading: Promise<unknown> = Promise.resolve();
  const readNewAsync = async (): Promise<MessageFromUi[]> => {
    const fresh = await page.evaluate((from) => (globalThis as any).pluginUiHarness.read(from) as unknown[][], received.length);
    for (const message of fresh) {
      const [name, ...args] = decodeFromPage(message) as [string, ...unknown[]];
      received.push({ name, args });
    }
    return received.slice();
  };
  const messagesFromUiAsync = (): Promise<MessageFromUi[]> => {
    const result = reading.then(readNewAsync, readNewAsync);
    reading = result.catch(() => undefined);
    return result;
  };

  return {
    page,
    frame,
    consoleErrors,
    async sendToUiAsync(name, ...args) {
      await page.evaluate((message) => (globalThis as any).pluginUiHarness.send(message), encodeForPage([name, ...args]));
    },
    messagesFromUiAsync,
    async waitForMessageFromUiAsync(name, { timeoutMs = 10_000, after = 0 } = {}) {
      try {
        // +1 because waitForFunction waits for a truthy value and index 0 is a hit.
        await page.waitForFunction(([n, a]) => (globalThis as any).pluginUiHarness.indexOf(n, a) + 1, [name, after] as const, {
          timeout: timeoutMs,
          polling: 20,
        });
      } catch (error) {
        const names = await page.evaluate(() => (globalThis as any).pluginUiHarness.names() as string[]).catch(() => ['(page closed)']);
        throw new Error(`no ${name} message from the UI at index >= ${after} within ${timeoutMs} ms; received: [${names.join(', ')}]`, { cause: error });
      }
      const messages = await messagesFromUiAsync();
      const index = messages.findIndex((message, i) => i >= after && message.name === name);
      return { ...messages[index], index };
    },
    async screenshotAsync(filePath) {
      await mkdir(dirname(filePath), { recursive: true });
      await page.locator('#plugin-ui').screenshot({ path: filePath });
    },
  };
}
