// inflation ships no types: it returns the request stream, or the stream piped into the zlib
// decompressor its Content-Encoding names (gzip, deflate, br), and throws a 415 error otherwise.
declare module 'inflation' {
  import type { Readable } from 'node:stream';
  function inflate(stream: Readable & { headers?: Record<string, unknown> }, options?: { encoding?: string }): Readable;
  export default inflate;
}
