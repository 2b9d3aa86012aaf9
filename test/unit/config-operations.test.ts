/**
 * The operations settings: defaults that protect a 2-core machine, units in the names, and
 * every wrong value refused together at start-up.
 */
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';

const base = { AUTH_DISABLED: 'true' };

describe('config: limits, overload guard, shutdown, metrics', () => {
  it('has documented defaults', () => {
    const config = loadConfig(base);
    expect(config).to.include({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      maxInflight: 16,
      maxQueue: 128,
      overloadRetryAfterSeconds: 1,
      shutdownGraceMs: 10_000,
      metricsPublic: true,
    });
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
      METRICS_PUBLIC: 'false',
    });
    expect(config).to.include({
      requestTimeoutMs: 5_000,
      headersTimeoutMs: 2_000,
      keepAliveTimeoutMs: 65_000,
      maxInflight: 2,
      maxQueue: 0,
      overloadRetryAfterSeconds: 3,
      shutdownGraceMs: 25_000,
      metricsPublic: false,
    });
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
});
