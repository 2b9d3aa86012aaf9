/**
 * Service configuration: the only reader of `process.env`.
 *
 * Every setting is an environment variable, validated once at start-up against
 * {@link envSchema}; every problem is reported at once, and the result is frozen.
 * To add a setting: add it to `envSchema` (with a description and default), to {@link Config},
 * and to the mapping in {@link loadConfig}; then to the README's configuration table.
 */
import { Ajv } from 'ajv';

/** JSON Schema of the environment, by variable name. Descriptions feed the README table. */
export const envSchema = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'TCP port to listen on' },
    HOST: { type: 'string', minLength: 1, default: '0.0.0.0', description: 'Address to bind' },
    MODEL_MANIFEST: {
      type: 'string',
      minLength: 1,
      default: 'resources/models/default.json',
      description: 'Path of the model manifest (JSON); the ONNX file path inside it is relative to the manifest',
    },
    MAX_UPLOAD_BYTES: {
      type: 'integer',
      minimum: 1024,
      default: 10 * 1024 * 1024,
      description: 'Largest accepted image part, in bytes',
    },
    MAX_IMAGE_PIXELS: {
      type: 'integer',
      minimum: 1,
      default: 40_000_000,
      description: 'Largest accepted image, in pixels (width x height), checked from the header before decoding',
    },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      description: 'pino log level',
    },
  },
} as const;

/** The validated, frozen configuration. Names carry their units. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly modelManifestPath: string;
  readonly maxUploadBytes: number;
  readonly maxImagePixels: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** Thrown when the environment is invalid; `problems` lists every one of them. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: false });
const validateEnv = ajv.compile(envSchema);

/**
 * Parses and validates the environment.
 *
 * @param env - defaults to `process.env`; tests pass their own object.
 * @throws {@link ConfigError} listing every invalid variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const known = Object.keys(envSchema.properties);
  // Empty strings mean "unset", as in most container platforms' env editors.
  const raw: Record<string, unknown> = {};
  for (const name of known) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  if (!validateEnv(raw)) {
    const problems = (validateEnv.errors ?? []).map(
      (e) => `${e.instancePath.slice(1) || 'environment'} ${e.message ?? 'is invalid'}`,
    );
    throw new ConfigError(problems);
  }
  const v = raw as Record<string, never>;
  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    modelManifestPath: v.MODEL_MANIFEST,
    maxUploadBytes: v.MAX_UPLOAD_BYTES,
    maxImagePixels: v.MAX_IMAGE_PIXELS,
    logLevel: v.LOG_LEVEL,
  });
}

/** The configuration as it is safe to log: secrets replaced. */
export function redactConfig(config: Config): Record<string, unknown> {
  return { ...config };
}
