/**
 * Where Label Studio is and how to read from it: the settings (`LABEL_STUDIO_URL`,
 * `LABEL_STUDIO_API_KEY`) until Label Studio's `setup` call tells its own `hostname` and
 * `access_token`, which then hold until a restart (in memory only: the key is never written).
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

/** The connection, starting from the settings. */
export function createConnection(url: string | undefined, apiKey: string | undefined): LabelStudioConnection {
  let origin = httpOrigin(url);
  let key = apiKey;
  return {
    current: () => (origin === undefined ? undefined : { origin, apiKey: key }),
    setup(hostname, accessToken) {
      const named = httpOrigin(hostname);
      if (named !== undefined) origin = named;
      if (accessToken !== undefined && accessToken !== '') key = accessToken;
    },
  };
}
