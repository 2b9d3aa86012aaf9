/**
 * The operations settings: defaults that protect a 2-core machine, units in the names, and
 * every wrong value refused together at start-up.
 */
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const base = { AUTH_DISABLED: 'true' };

describe('config: limits, overload guard, shutdown, metrics', () => {
  it('has documented defaults', () => {
    const config = loadConfig(base);
    expect(config.server).to.include({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      overloadRetryAfterSeconds: 1,
      shutdownGraceMs: 10_000,
      maxConnections: 64,
      maxConnectionsPerAddress: 32,
      connectionReserve: 8,
      minBodyRateBytesPerSecond: 8192,
      bodyRateGraceMs: 5_000,
    });
    expect(config.admission).to.include({ maxInflight: 16, maxQueue: 128, retryAfterSeconds: 1 });
    expect(config.access).to.include({ metricsPublic: false });
  });

  it('reads each setting from its variable', () => {
    const config = loadConfig({
      ...base,
      REQUEST_TIMEOUT_MS: '5000',
      HEADERS_TIMEOUT_MS: '2000',
      KEEP_ALIVE_TIMEOUT_MS: '65000',
      MAX_INFLIGHT: '2',
      MAX_QUEUE: '0',
      OVERLOAD_RETRY_AFTER_SECONDS: '3',
      SHUTDOWN_GRACE_MS: '25000',
      METRICS_PUBLIC: 'true',
      MAX_CONNECTIONS: '32',
      MAX_CONNECTIONS_PER_ADDRESS: '4',
      CONNECTION_RESERVE: '2',
      MIN_BODY_RATE_BYTES_PER_SECOND: '1024',
      BODY_RATE_GRACE_MS: '0',
    });
    expect(config.server).to.include({
      requestTimeoutMs: 5_000,
      headersTimeoutMs: 2_000,
      keepAliveTimeoutMs: 65_000,
      overloadRetryAfterSeconds: 3,
      shutdownGraceMs: 25_000,
      maxConnections: 32,
      maxConnectionsPerAddress: 4,
      connectionReserve: 2,
      minBodyRateBytesPerSecond: 1024,
      bodyRateGraceMs: 0,
    });
    // One Retry-After for every overload answer, whichever gate refused.
    expect(config.admission).to.include({ maxInflight: 2, maxQueue: 0, retryAfterSeconds: 3 });
    expect(config.explain.admission).to.include({ retryAfterSeconds: 3 });
    expect(config.access).to.include({ metricsPublic: true });
  });

  it('refuses every wrong value at once, including a headers timeout over the request timeout', () => {
    let error: unknown;
    try {
      loadConfig({ ...base, MAX_INFLIGHT: '0', MAX_QUEUE: '-1', REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '5000', METRICS_PUBLIC: 'maybe' });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).to.match(/MAX_INFLIGHT/);
    expect(problems).to.match(/MAX_QUEUE/);
    expect(problems).to.match(/METRICS_PUBLIC/);
    expect(problems).to.match(/HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS/);
  });

  describe('decoding limits and the decode memory budget', () => {
    const MiB = 1024 * 1024;

    it('has documented defaults', () => {
      const config = loadConfig(base);
      expect(config.images).to.include({ maxJpegScans: 100, decodeTimeoutSeconds: 10 });
      expect(config.admission).to.include({ memoryBudgetBytes: 256 * MiB, maxLargeInflight: 2, maxLargeQueue: 8 });
      // One large decode may take all of the budget but the ordinary images' reserve.
      expect(config.images.maxDecodeBytes).to.equal(192 * MiB);
    });

    it('reads each from its variable; 0 turns the budget off', () => {
      const config = loadConfig({
        ...base,
        JPEG_MAX_SCANS: '250',
        DECODE_TIMEOUT_SECONDS: '3',
        DECODE_MEMORY_BUDGET_MIB: '0',
        MAX_LARGE_DECODES: '1',
        MAX_LARGE_QUEUE: '0',
      });
      expect(config.images).to.include({ maxJpegScans: 250, decodeTimeoutSeconds: 3, maxDecodeBytes: Infinity });
      expect(config.admission).to.include({ memoryBudgetBytes: 0, maxLargeInflight: 1, maxLargeQueue: 0 });
    });

    it('refuses a budget too small to hold a large decode beside the reserve of ordinary ones, with the other wrong values', () => {
      let error: unknown;
      try {
        loadConfig({ ...base, DECODE_MEMORY_BUDGET_MIB: '64', JPEG_MAX_SCANS: '0', MAX_LARGE_DECODES: '0' });
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).to.match(/DECODE_MEMORY_BUDGET_MIB must be 0 \(no budget\) or at least 96/);
      expect(problems).to.match(/JPEG_MAX_SCANS/);
      expect(problems).to.match(/MAX_LARGE_DECODES/);
    });
  });

  it('refuses a connection reserve that leaves no slot to an address already connected', () => {
    expect(() => loadConfig({ ...base, MAX_CONNECTIONS: '8', CONNECTION_RESERVE: '8' }))
      .to.throw(ConfigError, /CONNECTION_RESERVE must be less than MAX_CONNECTIONS/);
  });
});

describe('config: explanations and the web page', () => {
  it('bounds explanations by default: 64 passes (a 7 × 7 grid), one at a time, four waiting', () => {
    const { explain } = loadConfig(base);
    expect(explain.maxPasses).to.equal(64);
    expect(explain.admission).to.include({ maxInflight: 1, maxQueue: 4 });
  });

  it('reads them, and refuses a pass budget below a 7 × 7 grid with the other problems', () => {
    const { explain } = loadConfig({ ...base, EXPLAIN_MAX_PASSES: '100', EXPLAIN_MAX_INFLIGHT: '2', EXPLAIN_MAX_QUEUE: '0' });
    expect(explain.maxPasses).to.equal(100);
    expect(explain.admission).to.include({ maxInflight: 2, maxQueue: 0 });
    try {
      loadConfig({ ...base, EXPLAIN_MAX_PASSES: '49', EXPLAIN_MAX_INFLIGHT: '0' });
      expect.fail('expected a ConfigError');
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).problems.join('\n')).to.match(/EXPLAIN_MAX_PASSES must be >= 50/).and.match(/EXPLAIN_MAX_INFLIGHT/);
    }
  });

  it("names the page's client with OAUTH2_UI_CLIENT_ID, and none without it", () => {
    const auth = { OAUTH2_ISSUER: 'https://tenant.example.com/', OAUTH2_AUDIENCE: 'https://cat-dog-other/api' };
    expect(loadConfig({ ...auth, OAUTH2_UI_CLIENT_ID: 'page' }).auth).to.include({ uiClientId: 'page' });
    expect(loadConfig(auth).auth).to.include({ uiClientId: undefined });
  });
});

describe('config: payload events (issue 26)', () => {
  it('sends none by default; every event, to KServe\'s default names, once PAYLOAD_LOGGER_URL is set', () => {
    expect(loadConfig(base).payloadLogger).to.include({ url: undefined, mode: 'all', namespace: 'default', component: 'predictor', endpoint: 'default' });
    const config = loadConfig({
      ...base,
      PAYLOAD_LOGGER_URL: 'http://broker-ingress.knative-eventing.svc.cluster.local/models/default',
      PAYLOAD_LOGGER_MODE: 'request',
      PAYLOAD_LOGGER_INFERENCE_SERVICE: 'catdog',
      PAYLOAD_LOGGER_NAMESPACE: 'models',
      PAYLOAD_LOGGER_QUEUE_MIB: '8',
      PAYLOAD_LOGGER_RETRIES: '0',
    });
    expect(config.payloadLogger).to.include({
      url: 'http://broker-ingress.knative-eventing.svc.cluster.local/models/default',
      mode: 'request',
      inferenceService: 'catdog',
      namespace: 'models',
      queueBytes: 8 * 1024 * 1024,
      retries: 0,
      queueEvents: 1000,
      concurrency: 4,
      timeoutMs: 5000,
    });
  });

  it('refuses another scheme, credentials in the URL and an unknown mode, together', () => {
    for (const url of ['ftp://receiver.example/', 'https://user:secret@receiver.example/', 'receiver.example']) {
      expect(() => loadConfig({ ...base, PAYLOAD_LOGGER_URL: url }), url).to.throw(ConfigError, /PAYLOAD_LOGGER_URL/);
    }
    try {
      loadConfig({ ...base, PAYLOAD_LOGGER_URL: 'ftp://x/', PAYLOAD_LOGGER_MODE: 'both', PAYLOAD_LOGGER_CONCURRENCY: '0' });
      expect.fail('loaded');
    } catch (err) {
      expect((err as ConfigError).problems.join('\n')).to.match(/PAYLOAD_LOGGER_URL/).and.match(/PAYLOAD_LOGGER_MODE/).and.match(/PAYLOAD_LOGGER_CONCURRENCY/);
    }
  });
});
