/**
 * The Monitoring view's calls: the repository's models (`POST /v2/repository/index`) and each
 * one's evidence (`GET /v2/repository/models/{name}/evidence`), both behind the scope
 * `manage::models`, through openapi-fetch typed by the spec like the page's other calls.
 */
import { serviceClient } from './api.js';
import type { components } from '../../generated/openapi.js';

/** A model's evidence, per loaded version. */
export type ModelEvidence = components['schemas']['ModelEvidence'];
/** One version's evidence. */
export type VersionEvidence = components['schemas']['VersionEvidence'];
/** A model's canary and shadow, the version serving, and whether each candidate takes part. */
export type TrafficStatus = components['schemas']['TrafficStatus'];
/** The body of `PUT .../traffic`. */
export type TrafficSetting = components['schemas']['TrafficSetting'];

/** A refusal of the service: its message is the problem's `detail` (else its title, or the status). */
export class Refusal extends Error {
  /** The problem's `code` (src/errors.ts), if it has one. */
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'Refusal';
    this.code = code;
  }
}

function refusal(error: unknown, response: Response): Refusal {
  const problem = (typeof error === 'object' && error !== null ? error : {}) as { detail?: unknown; title?: unknown; code?: unknown };
  const text = typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : `HTTP ${response.status}`;
  return new Refusal(text, typeof problem.code === 'string' ? problem.code : undefined);
}

/** The scope the Monitoring view needs. */
const MONITORING_SCOPE = 'manage::models';

/** What the view can read: the models' names, or why not. */
export type Models = { readonly ok: true; readonly names: readonly string[] } | { readonly ok: false; readonly status: number };

/** The calls, with the page's token (if any). */
export function createMonitoringApi(token: () => string | undefined) {
  const client = serviceClient(token);
  return {
    /** The names of the models with a READY version, or the status that refused the list (401, 403). */
    async models(): Promise<Models> {
      const { data, response } = await client.POST('/v2/repository/index', { body: { ready: true } });
      if (!data) return { ok: false, status: response.status };
      return { ok: true, names: [...new Set(data.map((e) => e.name))].sort() };
    },
    /** The evidence of `name`'s loaded versions. */
    async evidence(name: string): Promise<ModelEvidence> {
      const { data, response } = await client.GET('/v2/repository/models/{model_name}/evidence', { params: { path: { model_name: name } } });
      if (!data) throw new Error(`the evidence of ${name} is not available (HTTP ${response.status})`);
      return data;
    },
    /** The traffic of `name` (canary, shadow, serving version). */
    async traffic(name: string): Promise<TrafficStatus> {
      const { data, error, response } = await client.GET('/v2/repository/models/{model_name}/traffic', { params: { path: { model_name: name } } });
      if (!data) throw refusal(error, response);
      return data;
    },
    /** Sets the traffic of `name`; throws the problem's detail when refused. */
    async setTraffic(name: string, body: TrafficSetting): Promise<TrafficStatus> {
      const { data, error, response } = await client.PUT('/v2/repository/models/{model_name}/traffic', { params: { path: { model_name: name } }, body });
      if (!data) throw refusal(error, response);
      return data;
    },
    /** Promotes `version` of `name`: loads and pins it (`POST .../load`), which ends its canary and shadow. */
    async promote(name: string, version: string): Promise<void> {
      const { data, error, response } = await client.POST('/v2/repository/models/{model_name}/load', { params: { path: { model_name: name } }, body: { parameters: { version } } });
      if (!data) throw refusal(error, response);
    },
    /** Rolls `version` of `name` back: unloads it (`POST .../unload`), which ends its canary and shadow. */
    async rollBack(name: string, version: string): Promise<void> {
      const { data, error, response } = await client.POST('/v2/repository/models/{model_name}/unload', { params: { path: { model_name: name } }, body: { parameters: { version } } });
      if (!data) throw refusal(error, response);
    },
  };
}

/**
 * Whether `token` may carry `manage::models`: `false` only for a JWT whose scope claim (`scope`,
 * `scp` or `permissions`, as the service reads them) lacks it, so that the page does not ask the
 * service for what it would refuse. An opaque token, or none, may: the service decides.
 */
export function mayMonitor(token: string | undefined): boolean {
  if (token === undefined) return true;
  const payload = token.split('.')[1];
  if (payload === undefined) return true;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    const scopes = [claims.scope, claims.scp, claims.permissions].flatMap((c): unknown[] => (typeof c === 'string' ? c.split(' ') : Array.isArray(c) ? (c as unknown[]) : []));
    return scopes.includes(MONITORING_SCOPE);
  } catch {
    return true;
  }
}
