/**
 * The error catalogue as gRPC statuses: every code has one, the choices a client relies on, and
 * the retry information of a refusal worth retrying.
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import protobuf from 'protobufjs';
import { Overloaded, problemCatalogue, TensorInvalid, type ProblemCode } from '../../../../src/errors.js';
import { GRPC_STATUS_OF, grpcFailure } from '../../../../src/frontends/grpc/status.js';

describe('gRPC statuses of the error catalogue', () => {
  it('every code of the catalogue has a status, and the table no other code', () => {
    expect(Object.keys(GRPC_STATUS_OF).sort()).to.deep.equal(Object.keys(problemCatalogue).sort());
  });

  it('statuses follow the HTTP ones: 4xx the client must change, 401/403, 404, 503', () => {
    const byHttp = (code: ProblemCode): number => problemCatalogue[code].status;
    for (const [code, grpcStatus] of Object.entries(GRPC_STATUS_OF) as [ProblemCode, status][]) {
      const http = byHttp(code);
      if (http === 401) expect(grpcStatus, code).to.equal(status.UNAUTHENTICATED);
      else if (http === 403) expect(grpcStatus, code).to.equal(status.PERMISSION_DENIED);
      else if (http === 404) expect(grpcStatus, code).to.equal(status.NOT_FOUND);
      else if (http === 500) expect(grpcStatus, code).to.equal(status.INTERNAL);
      else if (http === 503) expect([status.UNAVAILABLE, status.RESOURCE_EXHAUSTED], code).to.include(grpcStatus);
      // A refused version: the files must change, not the request.
      else if (code === 'model-load-failed') expect(grpcStatus, code).to.equal(status.FAILED_PRECONDITION);
      else if (http === 400 || http === 422) expect(grpcStatus, code).to.equal(status.INVALID_ARGUMENT);
      else expect(grpcStatus, code).to.not.equal(status.OK);
    }
  });

  it('overloaded: RESOURCE_EXHAUSTED with retry-after and google.rpc.RetryInfo in grpc-status-details-bin', () => {
    const { error, problem } = grpcFailure(new Overloaded(3), false);
    expect(problem).to.equal('overloaded');
    expect(error.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(error.metadata!.get('retry-after')).to.deep.equal(['3']);
    const details = error.metadata!.get('grpc-status-details-bin')[0] as Buffer;
    // google.rpc.Status, google.protobuf.Any, google.rpc.RetryInfo, google.protobuf.Duration, by hand.
    const root = protobuf.parse(`syntax = "proto3";
      message Duration { int64 seconds = 1; int32 nanos = 2; }
      message RetryInfo { Duration retry_delay = 1; }
      message Any { string type_url = 1; bytes value = 2; }
      message Status { int32 code = 1; string message = 2; repeated Any details = 3; }`, { keepCase: true }).root;
    const decoded = root.lookupType('Status').toObject(root.lookupType('Status').decode(details), { longs: Number }) as { code: number; message: string; details: { type_url: string; value: Uint8Array }[] };
    expect(decoded).to.deep.include({ code: status.RESOURCE_EXHAUSTED, message: 'Too many requests in flight; retry later' });
    expect(decoded.details[0]!.type_url).to.equal('type.googleapis.com/google.rpc.RetryInfo');
    const retry = root.lookupType('RetryInfo').toObject(root.lookupType('RetryInfo').decode(decoded.details[0]!.value), { longs: Number });
    expect(retry).to.deep.equal({ retry_delay: { seconds: 3 } });
  });

  it('a bad tensor: INVALID_ARGUMENT with the detail and the problem code, no retry information', () => {
    const { error } = grpcFailure(new TensorInvalid('Input "image" has shape [N]'), false);
    expect(error).to.include({ code: status.INVALID_ARGUMENT, details: 'Input "image" has shape [N]' });
    expect(error.metadata!.get('problem-code')).to.deep.equal(['tensor-invalid']);
    expect(error.metadata!.get('grpc-status-details-bin')).to.deep.equal([]);
  });

  it('an unexpected error: INTERNAL without its message; a cancelled call: CANCELLED', () => {
    const { error } = grpcFailure(new Error('secret path /etc/x'), false);
    expect(error).to.include({ code: status.INTERNAL, details: 'Internal server error' });
    expect(grpcFailure(new Error('aborted'), true).error.code).to.equal(status.CANCELLED);
  });
});
