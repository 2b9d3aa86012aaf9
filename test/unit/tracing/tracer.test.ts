import { expect } from 'chai';
import { trace } from '@opentelemetry/api';
import { incomingParent, inSpan, inSyncSpan, recordSpan, startServerSpan, tracingOn } from '../../../src/tracing/tracer.js';

describe('tracing/tracer: off (the default)', () => {
  it('makes no span: the helpers run the work and return its result, a server span is undefined', async () => {
    expect(tracingOn()).to.equal(false);
    expect(await inSpan('body read', () => Promise.resolve(42))).to.equal(42);
    expect(inSyncSpan('encode', () => 'answer')).to.equal('answer');
    recordSpan('queue wait', 0, 1);
    const parent = incomingParent({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    expect(startServerSpan('POST', parent, {})).to.equal(undefined);
    // Nothing registered a context manager: no span is active inside the work either.
    expect(await inSpan('x', () => trace.getActiveSpan())).to.equal(undefined);
  });

  it('passes the work\'s failures through, synchronous or not', async () => {
    const failure = await inSpan('x', () => {
      throw new Error('sync');
    }).then(() => undefined, (err: Error) => err.message);
    expect(failure).to.equal('sync');
    expect(() => inSyncSpan('x', () => {
      throw new Error('sync');
    })).to.throw('sync');
  });
});
