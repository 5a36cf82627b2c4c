// The companion server as a fastify app, separate from the file that listens, so tests use real
// sockets on a free port. Guards first (Host, Origin, token), then the WebSocket and HTTP routes.
import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { isMgieError, MgieError } from '../engine/errors.ts';
import type { MgiePipeline } from '../engine/mgie-pipeline.ts';
import { onnxRuntimeVersion } from '../engine/onnx-runtime.ts';
import { ClientMessageSchema, decodeBinaryFrame, PROTOCOL_VERSION, splitSubmitPayload, type ServerLimits, type ServerMessage, SubmitHeaderSchema, WEBSOCKET_PATH } from '../protocol/messages.ts';
import { ClientHub } from './client-hub.ts';
import type { EditBackend } from './edit-backend.ts';
import { type EditEngine, inThisThread } from './edit-engine.ts';
import { EditService } from './edit-service.ts';
import { PAIRING_PATHS, registerPairingRoutes } from './pairing/pairing-routes.ts';
import { ProtocolErrorLog } from './protocol-error-log.ts';
import { isAllowedHost, isAllowedOrigin, RateLimiter, tokenFromRequest } from './request-guards.ts';
import { ResultCache } from './result-cache.ts';
import type { FinishedEdit, Outgoing } from './run-edit-job.ts';
import { httpExtrasOf } from './submit-extras.ts';
import { createServerMetrics, type ServerMetrics } from './server-metrics.ts';
import { maxFrameBytes, type ServerOptions } from './server-options.ts';
import { CLOSE_TOKEN_REVOKED, clientKey, CLOSE_TOO_MANY_CONNECTIONS, TOKEN_REVOKED_REASON, tooManyConnectionsReason, UserConnections } from './user-connections.ts';
import { type Identity, UserDirectory } from './user-directory.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The token's user, set by the guard hook (null only on the open paths). */
    identity: Identity | null;
  }
}
import { UploadSpool } from './upload-spool.ts';

export const SERVER_NAME = 'mgie-companion';
export const SERVER_VERSION = '0.1.0';
const HEARTBEAT_MS = 30_000;
const OPEN_PATHS = new Set(['/healthz', '/readyz']);
/**
 * Readable by browser pages of an allowed origin (the plugin's is `null`): a browser hides why a
 * WebSocket upgrade failed, so the plugin asks /v1/info?token=... to tell "token rejected" from "server
 * down". A simple GET (or HEAD) with the token in the query needs no preflight, so there is no OPTIONS route.
 */
const BROWSER_PROBE_PATHS = new Set(['/healthz', '/readyz', '/v1/info']);
const checkClientMessage = TypeCompiler.Compile(ClientMessageSchema);
const checkSubmitHeader = TypeCompiler.Compile(SubmitHeaderSchema);

export interface MgieApp {
  app: FastifyInstance;
  /** Serves edits with this pipeline; until then /readyz answers 503 and edits are refused. */
  attachPipeline(pipeline: MgiePipeline): void;
  /** Serves edits with this engine (engine-thread/: the pipeline in a worker thread, as `mgie serve` runs it). */
  attachEngine(engine: EditEngine): void;
  /** Serves edits with another backend (a scale-out front on Redis) instead of a pipeline in this process. */
  attachService(create: (context: ServiceContext) => EditBackend): void;
  readonly service: EditBackend | null;
  readonly hub: ClientHub;
  /** Users with a token of their own (users.json), as last read. */
  readonly userCount: number;
  /** The result cache, or null when off (`mgie serve` prepares its folder at start). */
  readonly cache: ResultCache | null;
  /** Where waiting uploads wait (`mgie serve` sweeps stale spool folders at start). */
  readonly spool: UploadSpool;
  /** Stops accepting, tells clients, lets the running edit finish (or cancels it after the grace). */
  closeAsync(): Promise<void>;
}

/** What a backend gets from the app: where to send messages, the metrics to add to, the log. */
export interface ServiceContext {
  options: ServerOptions;
  metrics: ServerMetrics;
  hub: ClientHub;
  send: (clientId: string, outgoing: Outgoing) => void;
  log: FastifyBaseLogger;
}

export function buildApp(options: ServerOptions, logger: boolean | object = false): MgieApp {
  const app = Fastify({
    logger: logger === false ? false : { ...(typeof logger === 'object' ? logger : {}), redact: ['req.headers.authorization'], serializers: { req: (req) => ({ method: req.method, url: req.url.split('?')[0] }) } },
    bodyLimit: options.maxImageBytes,
    forceCloseConnections: true,
    ...(options.tls ? { https: options.tls } : {}),
  });
  const hub = new ClientHub(
    { perClient: options.resultsKeptPerClient, maxBytes: options.resultsKeptMaxBytes, maxAgeMs: options.resultsKeptForMs },
    options.slowReader,
  );
  const rateLimiter = new RateLimiter(options.rateLimit);
  const connections = new UserConnections(options.maxConnectionsPerUser);
  // A revoked user loses their open connections and their jobs at once; their next request gets 401.
  const users = new UserDirectory({
    token: options.token,
    usersFile: options.usersFile,
    onRevoked: (revoked) => {
      for (const identity of revoked) {
        const closed = connections.closeRevoked(identity);
        // Kept results go now and once the cancellations are through (those send final messages too).
        hub.forgetKeptOfUser(identity.name);
        Promise.resolve(service?.cancelAllOf(identity.name) ?? 0)
          .then((cancelled) => {
            const freedBytes = hub.forgetKeptOfUser(identity.name);
            app.log.info({ user: identity.name, closed, cancelled, freedBytes }, 'token revoked');
          })
          .catch((error) => app.log.warn({ err: error, user: identity.name, closed }, 'token revoked; its jobs could not all be cancelled'));
      }
    },
    onReloadError: (error) => app.log.warn({ err: error }, 'users file not reloaded; the previous users stay in force'),
  });
  let service: EditBackend | null = null;
  let closing = false;
  const metrics = createServerMetrics(() => service?.waiting ?? 0);
  const cache = options.cache ? new ResultCache(options.cache) : null;
  const spool = new UploadSpool(options.uploadSpool);

  const limits = (): ServerLimits => ({
    maxImageBytes: options.maxImageBytes,
    maxImagePixels: options.limits.maxInputPixels,
    maxImageSide: options.limits.maxInputSide,
    maxEditSize: options.limits.maxEditSize,
    maxSteps: options.limits.maxSteps,
    maxInstructionLength: options.limits.maxInstructionLength,
    maxQueuedPerClient: options.maxQueuedPerClient,
    maxFrameBytes: maxFrameBytes(options),
  });

  const refuse = (reply: FastifyReply, error: MgieError): FastifyReply => reply.code(error.statusCode).send({ code: error.code, message: error.message });

  // 1. guards: Host against DNS rebinding, Origin against cross-site WebSocket hijacking, token on everything but health
  app.decorateRequest('identity', null);
  app.addHook('onRequest', async (request, reply) => {
    // A refused WebSocket upgrade must not leave its socket open (it would also hold up close()).
    if (request.headers.upgrade) {
      reply.header('connection', 'close');
      reply.raw.once('finish', () => request.raw.socket?.destroy());
    }
    const path = request.url.split('?')[0];
    const { origin } = request.headers;
    const readableByBrowser = ((request.method === 'GET' || request.method === 'HEAD') && BROWSER_PROBE_PATHS.has(path)) || (request.method === 'POST' && PAIRING_PATHS.has(path));
    if (readableByBrowser && origin !== undefined && isAllowedOrigin(origin, options.allowedOrigins)) {
      // Set before the checks below, so that their refusals (401, 403) are readable too.
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    }
    if (!isAllowedHost(request.headers.host, options.allowedHosts)) {
      return refuse(reply, new MgieError('MGIE_ERR_FORBIDDEN', `Host "${request.headers.host ?? ''}" is not allowed. Add it with --allowed-host if this server is meant to be reached by that name.`));
    }
    if (!isAllowedOrigin(request.headers.origin, options.allowedOrigins)) {
      return refuse(reply, new MgieError('MGIE_ERR_FORBIDDEN', `Origin "${request.headers.origin}" is not allowed to use this server.`));
    }
    if (OPEN_PATHS.has(path) || PAIRING_PATHS.has(path)) return; // pairing is how a designer gets a token
    request.identity = users.resolve(tokenFromRequest(request.headers, request.url)) ?? null;
    if (!request.identity) {
      return refuse(reply, new MgieError('MGIE_ERR_UNAUTHORIZED', 'Token missing, wrong or revoked: paste your token (your own from mgie token add, or the file the companion server\'s banner names).'));
    }
  });

  const protocolErrors = new ProtocolErrorLog(app.log);
  app.register(websocket, {
    options: { maxPayload: maxFrameBytes(options) },
    // ws itself closes a connection whose frames break the protocol, with the code that says why (1009:
    // too big, 1002: malformed) and then reports it here. The plugin's default handler terminated the
    // socket while that close frame was on its way (clients saw 1006) and logged each at error level.
    errorHandler: (error, socket) => {
      const code = (error as { code?: string }).code;
      if (code?.startsWith('WS_ERR_')) return protocolErrors.note(code, error.message);
      app.log.debug({ err: error }, 'websocket connection error');
      socket.terminate();
    },
  });

  // fastify's own errors (body too large, bad content type, unknown route) in the same shape as ours
  app.setErrorHandler((error: { code?: string; statusCode?: number; message: string }, _request, reply) => {
    if (isMgieError(error)) return refuse(reply, error);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return refuse(reply, new MgieError('MGIE_ERR_IMAGE_TOO_LARGE', `The upload is over the ${(options.maxImageBytes / 2 ** 20).toFixed(0)} MB limit. Export the image at a smaller scale.`));
    }
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
    return reply.code(status).send({ code: status < 500 ? 'MGIE_ERR_BAD_MESSAGE' : 'MGIE_ERR_RUNTIME', message: error.message });
  });

  // 2. health and information
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => (service?.model && !closing ? { ready: true, model: service.model.name } : reply.code(503).send({ ready: false })));
  app.get('/v1/info', async (request) => ({
    server: { name: SERVER_NAME, version: SERVER_VERSION, protocol: PROTOCOL_VERSION, onnxruntime: onnxRuntimeVersion, node: process.version },
    model: service?.model ? (({ scheduler: _scheduler, ...model }) => model)(service.model) : null,
    ready: Boolean(service?.model),
    limits: limits(),
    queue: { waiting: service?.waiting ?? 0, running: service?.running ?? 0, connections: hub.connectionCount },
    user: request.identity!.name,
  }));
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  // 3. pairing: a designer's own token for a code shown on the server's terminal
  registerPairingRoutes(app, { options, users, log: app.log });

  // 4. POST /v1/edits for scripts: raw image body, parameters in the query, PNG back
  app.addContentTypeParser(['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: options.maxImageBytes }, (_request, body, done) => done(null, body));
  app.post('/v1/edits', async (request, reply) => {
    const ready = service;
    if (!ready || closing) return refuse(reply, notReady(closing));
    const query = request.query as Record<string, string | undefined>;
    const clientId = `http:${request.ip}`;
    const user = request.identity!.name;
    if (!(await underRateAsync(ready, user))) return refuse(reply, rateLimited());
    if (!Buffer.isBuffer(request.body)) return refuse(reply, new MgieError('MGIE_ERR_BAD_IMAGE', 'Send the image as the request body with Content-Type image/png (or image/jpeg, image/webp).'));
    try {
      const { maskBytes, ...extras } = httpExtrasOf(request.query as Record<string, string | string[] | undefined>);
      const header = { type: 'submit' as const, clientJobId: randomUUID(), ...extras, parameters: parseQueryParameters(query) };
      const { image, mask } = withBadParameter(() => splitSubmitPayload({ maskBytes }, request.body as Buffer));
      const { jobId } = await ready.submitAsync(clientId, header, image, { streamEvents: false, owner: user, mask });
      // The request lives until the answer: let go of its body, so a waiting upload is on disk only.
      request.body = undefined;
      // A client that hangs up before its answer cancels its edit.
      reply.raw.on('close', () => {
        // already finished when it throws
        if (!reply.raw.writableFinished) Promise.resolve().then(() => ready.cancel(user, jobId)).catch(() => undefined);
      });
      const done = await ready.whenDone(jobId);
      if (done.earlier !== undefined) return sendMultipart(reply, jobId, [...done.earlier, done]);
      return reply
        .type('image/png')
        .header('X-MGIE-Expressive-Instruction', encodeURIComponent(done.header.expressiveInstruction))
        .header('X-MGIE-Expressive-Instruction-Source', done.header.expressiveInstructionSource ?? 'model')
        .header('X-MGIE-Seed', String(done.header.parameters.seed))
        .header('X-MGIE-Job-Id', jobId)
        .send(done.png);
    } catch (error) {
      return refuse(reply, asMgieError(error));
    }
  });

  // 5. the WebSocket protocol
  app.register(async (scope) => {
    scope.get(WEBSOCKET_PATH, { websocket: true }, (socket: WebSocket, request: FastifyRequest) => {
      const identity = request.identity!;
      // Accepted, then closed with a reason: a browser hides why an upgrade was refused.
      if (!users.isCurrent(identity)) return socket.close(CLOSE_TOKEN_REVOKED, TOKEN_REVOKED_REASON); // revoked during the upgrade
      if (!connections.tryAdd(identity, socket)) return socket.close(CLOSE_TOO_MANY_CONNECTIONS, tooManyConnectionsReason(options.maxConnectionsPerUser));
      const requested = new URL(request.url, 'http://x').searchParams.get('clientId');
      const publicId = requested && /^[A-Za-z0-9_-]{8,64}$/.test(requested) ? requested : randomUUID();
      // Private to its user: another user presenting the same clientId gets an empty mailbox of their own.
      const clientId = clientKey(identity.name, publicId);
      const send = (message: ServerMessage): void => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      };
      hub.attach(clientId, socket);
      const model = service?.model;
      send({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        clientId: publicId,
        user: identity.name,
        server: { name: SERVER_NAME, version: SERVER_VERSION },
        model: {
          name: model?.name ?? '(loading)',
          provider: model?.provider ?? 'cpu',
          defaults: model ? { ...model.defaults, scheduler: model.scheduler } : { steps: 0, guidanceScale: 0, imageGuidanceScale: 0, size: 0, scheduler: '' },
        },
        limits: limits(),
      });
      // A client that comes back re-attaches to its jobs and gets what finished meanwhile (its frames wait).
      const reattach = async (): Promise<void> => {
        for (const job of (await service?.jobsOf(clientId, identity.name)) ?? []) {
          send({ type: 'accepted', jobId: job.jobId, clientJobId: job.clientJobId, position: job.position });
          if (job.state === 'running') send({ type: 'started', jobId: job.jobId });
        }
        hub.flushPending(clientId, socket);
        await service?.deliverKeptAsync?.(clientId);
      };

      let alive = true;
      socket.on('pong', () => (alive = true));
      const heartbeat = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, HEARTBEAT_MS);
      heartbeat.unref();

      // Frames are handled one after another, so a client's submissions queue in the order sent, and the
      // connection is not read while one is handled: a client cannot pile up uploads in server memory
      // (the frame being handled, and at most one socket read of the next; README, "Memory").
      let previous: Promise<void> = reattach().catch((error) => send(errorMessage(asMgieError(error))));
      let unhandled = 0;
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (unhandled++ === 0) socket.pause();
        previous = previous
          .then(() => handleFrameAsync(identity, clientId, data, isBinary, send))
          .catch((error) => send(errorMessage(asMgieError(error))))
          .finally(() => {
            if (--unhandled === 0) socket.resume();
          });
      });
      socket.on('close', () => {
        clearInterval(heartbeat);
        hub.detach(clientId, socket);
        connections.remove(identity, socket);
      });
    });
  });

  /** One of the user's submit tokens: the backend's shared bucket (scale-out), else this server's. */
  async function underRateAsync(backend: EditBackend, user: string): Promise<boolean> {
    return backend.takeRateAsync ? backend.takeRateAsync(user) : rateLimiter.take(user);
  }

  async function handleFrameAsync(identity: Identity, clientId: string, data: Buffer, isBinary: boolean, send: (m: ServerMessage) => void): Promise<void> {
    if (isBinary) {
      let frame;
      try {
        frame = decodeBinaryFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } catch (error) {
        return send(errorMessage(badMessage(`Binary frame rejected: ${(error as Error).message}.`)));
      }
      if (!checkSubmitHeader.Check(frame.header)) {
        const first = [...checkSubmitHeader.Errors(frame.header)][0];
        const clientJobId = (frame.header as { clientJobId?: unknown } | null)?.clientJobId;
        return send({
          ...errorMessage(badMessage(`Submit header rejected: ${first ? `${first.path || '(root)'} ${first.message}` : 'invalid'}.`)),
          ...(typeof clientJobId === 'string' ? { clientJobId } : {}),
        });
      }
      const header = frame.header;
      if (!service || closing) return send({ ...errorMessage(notReady(closing)), clientJobId: header.clientJobId });
      if (!users.isCurrent(identity)) return send({ ...errorMessage(revoked()), clientJobId: header.clientJobId });
      if (!(await underRateAsync(service, identity.name))) return send({ ...errorMessage(rateLimited()), clientJobId: header.clientJobId });
      let parts;
      try {
        parts = splitSubmitPayload(header, frame.payload);
      } catch (error) {
        return send({ ...errorMessage(badMessage(`Submit frame rejected: ${(error as Error).message}.`)), clientJobId: header.clientJobId });
      }
      try {
        // No copies: the frame's buffer is this message's own (ws allocates it), and the views keep it alive.
        const { image, mask } = parts;
        await service.submitAsync(clientId, header, image, { owner: identity.name, mask }); // 'accepted' comes from the service
      } catch (error) {
        send({ ...errorMessage(asMgieError(error)), clientJobId: header.clientJobId });
      }
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      return send(errorMessage(badMessage('Text frames must be JSON.')));
    }
    if (!checkClientMessage.Check(message)) return send(errorMessage(badMessage('Unknown or malformed message; expected {"type":"cancel","jobId"} or {"type":"ping"}; edits are submitted as binary frames.')));
    if (message.type === 'ping') return send({ type: 'pong', id: message.id });
    try {
      if (!service) throw new MgieError('MGIE_ERR_NOT_FOUND', `No job ${message.jobId}.`);
      await service.cancel(identity.name, message.jobId);
    } catch (error) {
      send({ ...errorMessage(asMgieError(error)), jobId: message.jobId });
    }
  }

  return {
    app,
    hub,
    cache,
    get userCount() {
      return users.userCount;
    },
    spool,
    get service() {
      return service;
    },
    attachPipeline(pipeline: MgiePipeline) {
      this.attachEngine(inThisThread(pipeline));
    },
    attachEngine(engine: EditEngine) {
      metrics.modelLoadSeconds.set(engine.loadMilliseconds / 1000);
      service = new EditService(engine, options, metrics, (clientId, outgoing) => hub.send(clientId, outgoing), cache, spool, app.log);
    },
    attachService(create) {
      service = create({ options, metrics, hub, send: (clientId, outgoing) => hub.send(clientId, outgoing), log: app.log });
    },
    async closeAsync() {
      closing = true;
      users.close();
      hub.broadcast({ kind: 'json', message: { type: 'shutdown', message: 'The companion server is shutting down; reconnect when it is back.' } });
      await service?.closeAsync();
      for (const socket of hub.allSockets()) socket.close(1001, 'server shutting down');
      try {
        await app.close();
      } finally {
        await spool.closeAsync();
      }
    },
  };
}

function withBadParameter<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw isMgieError(error) ? error : new MgieError('MGIE_ERR_BAD_PARAMETER', `${(error as Error).message}: send the image and then the mask in the body, with maskBytes the mask's length.`);
  }
}

/** Several results (variations, chain steps) in one answer: multipart/mixed, one image/png part each, in order. */
function sendMultipart(reply: FastifyReply, jobId: string, results: FinishedEdit[]): FastifyReply {
  const boundary = `mgie-${randomUUID()}`;
  const parts: Buffer[] = [];
  for (const { header, png } of results) {
    const lines = [
      `--${boundary}`,
      'Content-Type: image/png',
      `Content-Length: ${png.length}`,
      `X-MGIE-Instruction: ${encodeURIComponent(header.instruction)}`,
      `X-MGIE-Expressive-Instruction: ${encodeURIComponent(header.expressiveInstruction)}`,
      `X-MGIE-Expressive-Instruction-Source: ${header.expressiveInstructionSource ?? 'model'}`,
      `X-MGIE-Seed: ${header.seed ?? header.parameters.seed}`,
      ...(header.variation !== undefined ? [`X-MGIE-Variation: ${header.variation}/${header.of}`] : []),
      ...(header.chainStep !== undefined ? [`X-MGIE-Chain-Step: ${header.chainStep}/${header.of}`] : []),
    ];
    parts.push(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), png, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return reply.type(`multipart/mixed; boundary=${boundary}`).header('X-MGIE-Job-Id', jobId).send(Buffer.concat(parts));
}

function parseQueryParameters(query: Record<string, string | undefined>): Record<string, number | string> {
  const parameters: Record<string, number | string> = {};
  for (const key of ['seed', 'steps', 'guidance', 'imageGuidance', 'size'] as const) {
    const text = query[key];
    if (text === undefined) continue;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new MgieError('MGIE_ERR_BAD_PARAMETER', `Query parameter ${key} must be a number, got "${text}".`);
    parameters[key === 'guidance' ? 'guidanceScale' : key === 'imageGuidance' ? 'imageGuidanceScale' : key] = value;
  }
  if (query.scheduler !== undefined) parameters.scheduler = query.scheduler;
  if (query.sizeMode !== undefined) parameters.sizeMode = query.sizeMode;
  return parameters;
}

function errorMessage(error: MgieError): Extract<ServerMessage, { type: 'error' }> {
  return { type: 'error', code: error.code, message: error.message };
}

function asMgieError(error: unknown): MgieError {
  return isMgieError(error) ? error : new MgieError('MGIE_ERR_RUNTIME', `The server failed: ${(error as Error)?.message ?? error}.`, { cause: error });
}

function badMessage(message: string): MgieError {
  return new MgieError('MGIE_ERR_BAD_MESSAGE', message);
}

function notReady(closing: boolean): MgieError {
  return closing
    ? new MgieError('MGIE_ERR_SHUTTING_DOWN', 'The companion server is shutting down; try again when it is back.')
    : new MgieError('MGIE_ERR_NOT_READY', 'The model is still loading; try again in a moment.');
}

function revoked(): MgieError {
  return new MgieError('MGIE_ERR_UNAUTHORIZED', TOKEN_REVOKED_REASON);
}

function rateLimited(): MgieError {
  return new MgieError('MGIE_ERR_RATE_LIMITED', 'Too many edits submitted too quickly; wait a few seconds and try again.');
}
