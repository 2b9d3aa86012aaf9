import type { operations } from '../../../generated/openapi.js';
import { SERVER_EXTENSIONS, SERVER_NAME, serverVersion } from '../../oip/server.js';
import type { OperationHandler } from '../../http/operation.js';

type ServerMetadata = operations['getServerMetadata']['responses'][200]['content']['application/json'];

/** `GET /v2`: the server's name, version and the protocol extensions it serves. */
export function getServerMetadata(): OperationHandler {
  const body: ServerMetadata = { name: SERVER_NAME, version: serverVersion(), extensions: [...SERVER_EXTENSIONS] };
  return (_c, ctx) => {
    ctx.body = body;
  };
}
