/**
 * Where Label Studio is and how to read from it. `LABEL_STUDIO_URL`, when set, pins the one host
 * task images are fetched from: a setup call cannot move it (whoever holds the backend's
 * credentials could otherwise point the service's fetches at any host it reaches). Unset, the
 * `hostname` of Label Studio's latest setup call is taken. The key is `LABEL_STUDIO_API_KEY`, or
 * else the setup's `access_token`. What setup tells is kept in memory only, until a restart.
 */

/** Label Studio as the backend reaches it. */
export interface LabelStudioHost {
  /** Its origin (`http://label-studio:8080`): task images are fetched from there and nowhere else. */
  readonly origin: string;
  /** A key of its API, sent as `Authorization: Token <key>`. */
  readonly apiKey: string | undefined;
}

/** The Label Studio the backend fetches from, and what `setup` changes of it. */
export interface LabelStudioConnection {
  /** The host known now; `undefined` when neither the settings nor a setup named one. */
  current(): LabelStudioHost | undefined;
  /** Takes the `hostname` and `access_token` of a setup call (either may be absent). */
  setup(hostname: string | undefined, accessToken: string | undefined): void;
}

/** The origin of `url`, when it is an http(s) URL. */
function httpOrigin(url: string | undefined): string | undefined {
  if (url === undefined || url === '') return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/** The connection: the settings first, what the latest setup said for what they leave unset. */
export function createConnection(url: string | undefined, apiKey: string | undefined): LabelStudioConnection {
  const pinned = httpOrigin(url);
  let told: { origin: string | undefined; apiKey: string | undefined } = { origin: undefined, apiKey: undefined };
  return {
    current() {
      const origin = pinned ?? told.origin;
      return origin === undefined ? undefined : { origin, apiKey: apiKey ?? told.apiKey };
    },
    setup(hostname, accessToken) {
      told = {
        origin: httpOrigin(hostname) ?? told.origin,
        apiKey: accessToken === undefined || accessToken === '' ? told.apiKey : accessToken,
      };
    },
  };
}
