/** Bearer-token protection of the operations the spec secures. */
export { defaultRealm, extractBearerToken, type TokenCarrier } from './bearer.js';
export { createKeySetLocator, KeySetUnreachable, type KeySetLocator, type KeySetLocatorOptions } from './issuer.js';
export { grantedScopes, satisfiesAny } from './scopes.js';
export {
  createSecurityHandler,
  createSecurityHandlers,
  requiredScopes,
  unauthorizedError,
  type Principal,
  type SecurityHandler,
  type SecurityHandlerOptions,
} from './security-handler.js';
export { verifierFromConfig } from './setup.js';
export {
  createAccessTokenVerifier,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type VerifiedAccessToken,
} from './verifier.js';
