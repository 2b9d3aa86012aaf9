/**
 * An upload's bytes are given back when its answer is written (`src/release-bytes.ts`),
 * and only bytes that are nobody else's: a whole buffer of their own, not a view of a larger one.
 */
import { expect } from 'chai';
import { releaseBytes } from '../../src/release-bytes.js';

describe('releasing an upload', () => {
  it('frees a buffer of its own (as multer reads a file part): it reads as empty afterwards, once', () => {
    const upload = Buffer.concat([Buffer.alloc(200_000, 1), Buffer.alloc(30_000, 2)]);
    expect(releaseBytes(upload)).to.equal(true);
    expect(upload.length).to.equal(0);
    expect((upload.buffer as ArrayBuffer & { detached?: boolean }).detached).to.equal(true);
    expect(releaseBytes(upload)).to.equal(false);
  });

  it('leaves a view of a larger buffer untouched (an image of a V2 body shares it with the others)', () => {
    const body = Buffer.alloc(300_000, 7);
    const image = body.subarray(1_000, 200_000);
    expect(releaseBytes(image)).to.equal(false);
    expect(image.length).to.equal(199_000);
    expect(body[250_000]).to.equal(7);
  });

  it("leaves Node's pooled small buffers, which hold other buffers' bytes too", () => {
    const small = Buffer.from('a small part');
    expect(small.buffer.byteLength).to.be.greaterThan(small.length);
    expect(releaseBytes(small)).to.equal(false);
    expect(small.toString()).to.equal('a small part');
  });
});
