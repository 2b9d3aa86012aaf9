/**
 * What the page says when something fails: an API problem (RFC 9457) or a network failure, in
 * words a person understands, with the service's own title and detail beneath.
 */
import type { Problem } from './api.js';

/** A failure as the page shows it. */
export interface Failure {
  /** One sentence saying what happened, for anyone. */
  readonly headline: string;
  /** The service's explanation (the problem's detail, or its title). */
  readonly detail: string;
  /** The problem's title and code, for whoever reports it. */
  readonly reference?: string;
  /** Whether signing in again would help. */
  readonly signInAgain?: boolean;
}

/** Headlines by problem code; a code not listed shows the problem's own title. */
const headlines: Readonly<Record<string, string>> = {
  'image-undecodable': 'This file is not an image',
  'image-too-large': 'This image is too large to read',
  'image-too-complex': 'This image is too costly to read',
  'payload-too-large': 'This file is too big',
  'unsupported-media-type': 'The photo could not be sent',
  'validation-failed': 'The photo could not be sent',
  'bad-request': 'The photo could not be sent',
  'token-missing': 'Please sign in',
  'invalid-token': 'Your sign-in has expired: please sign in again',
  'insufficient-scope': 'Your account is not allowed to classify photos',
  'auth-unavailable': 'Your sign-in cannot be checked right now: try again in a moment',
  overloaded: 'The service is busy: try again in a moment',
  'not-ready': 'The service is starting: try again in a moment',
  'request-timeout': 'The photo took too long to send',
  internal: 'Something went wrong on the service',
};

/** The failure to show for an API problem. */
export function fromProblem(problem: Problem): Failure {
  return {
    headline: headlines[problem.code] ?? problem.title,
    detail: problem.detail ?? problem.title,
    reference: `${problem.title} (${problem.code}, HTTP ${problem.status})`,
    signInAgain: problem.code === 'token-missing' || problem.code === 'invalid-token',
  };
}

/** The failure to show when a request did not get an answer, or got one that is not a problem. */
export function fromError(error: unknown, what: string): Failure {
  const message = error instanceof Error ? error.message : String(error);
  return { headline: `The service cannot be reached (${what})`, detail: message };
}
