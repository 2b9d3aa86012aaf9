/**
 * What an operation handler is, and the handler map typed from the generated spec types: an
 * operation in the spec without a handler does not compile.
 */
import type { Context } from 'openapi-backend';
import type { operations } from '../../generated/openapi.js';
import type { AppContext } from './context.js';

/**
 * One operation handler: writes the response to the Koa context, or throws a ProblemError. What
 * the request carries (the upload, the logger) is in the typed `ctx.state`.
 */
export type OperationHandler = (c: Context, ctx: AppContext) => Promise<void> | void;

/** A handler for every operationId in the spec. */
export type OperationHandlers = { readonly [K in keyof operations]: OperationHandler };
