/** A task image is fetched from Label Studio's origin only, within its byte and time limits. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { TaskImageRefused, TaskImageUnavailable } from '../../../../src/errors.js';
import { fetchTaskImage, imageUrl } from '../../../../src/frontends/label-studio/task-image.js';

describe('Label Studio task images', () => {
  let server: Server;
  let origin: string;
  const seen: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? ''}`);
      if (req.url === '/big') res.end(Buffer.alloc(4096));
      else if (req.url === '/slow') setTimeout(() => res.end('late'), 2_000).unref();
      else if (req.url === '/moved') res.writeHead(302, { location: 'http://example.com/x.png' }).end();
      else res.end('image');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('resolves Label Studio\'s paths against its origin, and refuses any other host, scheme or userinfo', () => {
    const host = { origin: 'http://ls:8080', apiKey: undefined };
    expect(imageUrl(1, '/data/upload/1/a.png', host).href).to.equal('http://ls:8080/data/upload/1/a.png');
    expect(imageUrl(1, 'http://ls:8080/data/x.png?d=1', host).href).to.equal('http://ls:8080/data/x.png?d=1');
    for (const reference of ['http://ls:8081/a.png', 'https://ls:8080/a.png', 'http://evil/a.png', '//evil/a.png', 's3://bucket/a.png', 'http://u:p@ls:8080/a.png', 'file:///etc/passwd']) {
      expect(() => imageUrl(1, reference, host), reference).to.throw(TaskImageRefused);
    }
    expect(() => imageUrl(1, undefined, host)).to.throw(TaskImageRefused);
    expect(() => imageUrl(1, '/a.png', undefined)).to.throw(TaskImageRefused, /LABEL_STUDIO_URL/);
  });

  it('sends the key as Authorization: Token, and gives the bytes', async () => {
    const host = { origin, apiKey: 'k1' };
    const bytes = await fetchTaskImage(1, new URL('/ok', origin), host, { maxBytes: 100, timeoutMs: 1_000 });
    expect(Buffer.from(bytes).toString()).to.equal('image');
    expect(seen).to.include('/ok Token k1');
  });

  it('gives up on an image over the limit, one that comes too late, and a redirect (not followed)', async () => {
    const host = { origin, apiKey: undefined };
    const fetchOf = (p: string): Promise<Uint8Array> => fetchTaskImage(1, new URL(p, origin), host, { maxBytes: 1_000, timeoutMs: 300 });
    const failure = async (p: string): Promise<unknown> => fetchOf(p).then(() => undefined, (err: unknown) => err);
    expect(await failure('/big')).to.be.instanceOf(TaskImageUnavailable).with.property('detail').that.matches(/over 1000 bytes/);
    const started = Date.now();
    expect(await failure('/slow')).to.be.instanceOf(TaskImageUnavailable).with.property('detail').that.matches(/within 300 ms/);
    expect(Date.now() - started).to.be.below(1_500);
    expect(await failure('/moved')).to.be.instanceOf(TaskImageUnavailable).with.property('detail').that.matches(/302/);
  });
});
