/**
 * The gRPC server (grpc-js, HTTP/2; plaintext "h2c" by default, TLS with a certificate and key)
 * around the front-end, with the same connection budget as the HTTP server: connections are
 * accepted by a plain `net.Server`, counted against `MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_ADDRESS`
 * and `CONNECTION_RESERVE` (a budget of their own, beside the HTTP server's), and only the admitted
 * ones are handed to grpc-js (its connection injector); a refused one is closed at once, which
 * a client sees as UNAVAILABLE and may retry elsewhere. Per connection, at most
 * `GRPC_MAX_CONCURRENT_STREAMS` calls run at once (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS), and a
 * message is at most `MAX_INFER_BODY_BYTES` (RESOURCE_EXHAUSTED beyond, from grpc-js).
 *
 * Each connection's HTTP/2 flow-control windows, per call and for the connection, are
 * `GRPC_FLOW_CONTROL_WINDOW` (1 MiB by default, grpc-java's default) instead of HTTP/2's 64 KiB,
 * with which a client sending a 250 KB photo stops for a WINDOW_UPDATE four times, and sixteen
 * concurrent calls share 64 KiB: measured at c=16, the server's CPU per one-image `ModelInfer`
 * fell from 10.8–11.4 to 9.3–9.7 ms and the client's from 0.8 to 0.46 (docs/performance.md).
 * grpc-js has no server option for it yet (grpc/grpc-node#3058 proposes
 * `grpc-node.flow_control_window`), so {@link widenFlowControl} sets it on each new session.
 *
 * It does not listen by itself: `src/main.ts` calls {@link GrpcServer.listen}.
 *
 * ```ts
 * const grpcServer = createGrpcServer(app.grpc, config.grpc);
 * const port = await grpcServer.listen();
 * ...
 * const clean = await grpcServer.drain(10_000);
 * ```
 */
import { readFileSync } from 'node:fs';
import type http2 from 'node:http2';
import net from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { createConnectionBudget } from '../../http/connection-budget.js';
import type { GrpcFrontend } from './index.js';

/** Where and how the gRPC server listens, from the configuration's `grpc` section. */
export interface GrpcServerSettings {
  /** TCP port (`GRPC_PORT`); the configuration gives none when it is 0 (disabled). */
  readonly port: number;
  readonly host: string;
  /** Calls running at once on one connection (`GRPC_MAX_CONCURRENT_STREAMS`). */
  readonly maxConcurrentStreams: number;
  /** HTTP/2 flow-control windows of each call and each connection, in bytes (`GRPC_FLOW_CONTROL_WINDOW`). */
  readonly flowControlWindow: number;
  /** Largest message received, in bytes (`MAX_INFER_BODY_BYTES`). */
  readonly maxMessageBytes: number;
  /** Connections open at once, per address, and kept for new addresses (as the HTTP server's). */
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly connectionReserve: number;
  /** PEM certificate chain and private key (`GRPC_TLS_CERT_PATH`, `GRPC_TLS_KEY_PATH`): TLS; absent: plaintext HTTP/2. */
  readonly tls: { readonly certPath: string; readonly keyPath: string } | undefined;
}

/** What the server reports. */
export interface GrpcServerHooks {
  /** A connection closed by the budget, with the address it was counted under. */
  readonly onConnectionRefused?: (scope: 'address' | 'server', address: string) => void;
  /** The flow-control windows could not be widened (a grpc-js without the servers' map): HTTP/2's 64 KiB apply. */
  readonly onFlowControlUnavailable?: () => void;
}

/** The gRPC server of one process. */
export interface GrpcServer {
  /** Listens; resolves with the port (the one chosen by the system for port 0, in tests). */
  listen(): Promise<number>;
  /**
   * Stops taking connections, turns the health service NOT_SERVING, lets the calls in progress
   * finish (GOAWAY), and resolves once every connection is closed: `true` within `graceMs`,
   * `false` when the remaining calls had to be cancelled.
   */
  drain(graceMs: number): Promise<boolean>;
  /** Connections open now. */
  readonly connections: number;
}

/** HTTP/2's initial flow-control window (RFC 9113, 6.9.2), per stream and per connection. */
const DEFAULT_WINDOW = 65_535;

/**
 * Widens the flow-control windows of every session `server`'s HTTP/2 servers (the injector's)
 * start from now on: SETTINGS_INITIAL_WINDOW_SIZE for each call, `setLocalWindowSize` for the
 * connection, both public `Http2Session` methods, called when the session is created, before it
 * reads a frame. The HTTP/2 servers are grpc-js's own (a private map, read defensively): `false`
 * when there is none to reach, and the defaults stay.
 */
function widenFlowControl(server: Server, windowBytes: number): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  for (const http2Server of servers.keys() as IterableIterator<http2.Http2Server>) {
    if (typeof http2Server?.on !== 'function') return false;
    http2Server.on('session', (session: http2.ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: windowBytes });
        session.setLocalWindowSize(windowBytes);
      } catch {
        // A session destroyed as it was created (its socket gone): no window to widen.
      }
    });
  }
  return true;
}

/** Creates the server for `frontend`; reads the TLS files now (a missing file stops start-up). */
export function createGrpcServer(frontend: GrpcFrontend, settings: GrpcServerSettings, hooks: GrpcServerHooks = {}): GrpcServer {
  const server = new Server({
    'grpc.max_receive_message_length': settings.maxMessageBytes,
    'grpc.max_concurrent_streams': settings.maxConcurrentStreams,
  });
  frontend.addTo(server);
  const credentials = settings.tls
    ? ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(settings.tls.certPath), private_key: readFileSync(settings.tls.keyPath) }], false)
    : ServerCredentials.createInsecure();
  const injector = server.createConnectionInjector(credentials);
  if (settings.flowControlWindow > DEFAULT_WINDOW && !widenFlowControl(server, settings.flowControlWindow)) hooks.onFlowControlUnavailable?.();
  const budget = createConnectionBudget({
    maxConnections: settings.maxConnections,
    maxPerAddress: settings.maxConnectionsPerAddress,
    reserve: settings.connectionReserve,
  });
  const sockets = new Set<net.Socket>();
  /** Called when the last connection closes while draining. */
  let allClosed: (() => void) | undefined;
  const listener = net.createServer((socket) => {
    const decision = budget.admit(socket.remoteAddress);
    if (!decision.admitted) {
      hooks.onConnectionRefused?.(decision.scope, decision.key);
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      decision.release();
      if (sockets.size === 0) allClosed?.();
    });
    injector.injectConnection(socket);
  });

  return {
    get connections() {
      return sockets.size;
    },
    listen() {
      return new Promise((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(settings.port, settings.host, () => {
          listener.off('error', reject);
          resolve((listener.address() as net.AddressInfo).port);
        });
      });
    },
    drain(graceMs) {
      frontend.health.refresh();
      frontend.health.close();
      listener.close();
      return new Promise((resolve) => {
        const done = (clean: boolean): void => {
          clearTimeout(timer);
          allClosed = undefined;
          injector.destroy();
          resolve(clean);
        };
        const timer = setTimeout(() => {
          server.forceShutdown();
          for (const socket of sockets) socket.destroy();
          done(false);
        }, graceMs);
        // GOAWAY on every connection (http2's graceful close): calls in progress finish, new
        // ones go elsewhere. Done once every connection has closed: grpc-js's own callback comes
        // as soon as the sessions are marked closing (Node closes them with the server), before
        // their calls finish.
        server.tryShutdown(() => {});
        allClosed = () => done(true);
        if (sockets.size === 0) done(true);
      });
    },
  };
}
