import { expect } from 'chai';
import { ConfigError, loadConfig, redactConfig } from '../../src/config/config.js';

const tracingOf = (env: Record<string, string>) => loadConfig({ AUTH_DISABLED: 'true', ...env }).tracing;

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ AUTH_DISABLED: 'true', ...env });
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config: OpenTelemetry tracing (OTEL_*)', () => {
  it('is off by default, and with only a service name or sampler set', () => {
    expect(tracingOf({})).to.deep.equal({ enabled: false });
    expect(tracingOf({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).to.deep.equal({ enabled: false });
  });

  it('an endpoint turns it on: traces go to {endpoint}/v1/traces, protobuf, parent-based always-on, the service\'s name', () => {
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).to.deep.equal({
      enabled: true,
      exporter: 'otlp',
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      exportTimeoutMs: 10_000,
      serviceName: 'catdog-classifier',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
  });

  it('the traces endpoint and protocol override the general ones; headers are parsed and URL-decoded', () => {
    const tracing = tracingOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp/v1/traces',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc%3D%3D, x-team = vision',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    expect(tracing).to.include({ url: 'https://traces.example/otlp/v1/traces', protocol: 'http/json', sampler: 'parentbased_traceidratio', samplerRatio: 0.25 });
    expect(tracing.enabled && tracing.headers).to.deep.equal({ 'api-key': 'abc==', 'x-team': 'vision' });
  });

  it('OTEL_TRACES_EXPORTER names the exporter (otlp to the default endpoint, console) or turns it off; OTEL_SDK_DISABLED wins', () => {
    expect(tracingOf({ OTEL_TRACES_EXPORTER: 'otlp' })).to.include({ enabled: true, url: 'http://localhost:4318/v1/traces' });
    expect(tracingOf({ OTEL_TRACES_EXPORTER: 'console' })).to.include({ enabled: true, exporter: 'console' });
    expect(tracingOf({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).to.deep.equal({ enabled: false });
    expect(tracingOf({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).to.deep.equal({ enabled: false });
  });

  it('refuses, all at once, an unknown protocol or sampler, a ratio out of [0, 1], an endpoint that is not an http(s) URL, malformed headers', () => {
    const problems = problemsOf({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_TRACES_SAMPLER_ARG: '2',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign',
    });
    for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_HEADERS']) {
      expect(problems.some((p) => p.startsWith(name)), `${name} in ${JSON.stringify(problems)}`).to.equal(true);
    }
  });

  it('never logs the export headers', () => {
    const config = loadConfig({ AUTH_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_HEADERS: 'api-key=secret' });
    expect(JSON.stringify(redactConfig(config))).not.to.contain('secret');
    expect(redactConfig(config).tracing).to.include({ headers: '[set]' });
  });
});
