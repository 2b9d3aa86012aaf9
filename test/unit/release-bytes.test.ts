/**
 * An upload's bytes are given back when its answer is written (`src/release-bytes.ts`),
 * and only bytes that are nobody else's: a whole buffer of their own, not a view of a larger one.
 */
import { expect } from 'chai';
import { releaseBackingBuffer, releaseBytes } from '../../src/release-bytes.js';

/** Whether `bytes`' buffer has been detached (ES2024). */
const detached = (bytes: Uint8Array): boolean => (bytes.buffer as ArrayBuffer & { detached?: boolean }).detached === true;

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

describe('releasing a received gRPC message', () => {
  /** A message as grpc-js frames it (5-byte header, then the message) and protobufjs decodes its byte fields: views of that one buffer. */
  function receivedMessage(sizes: readonly number[]): { framed: Buffer; fields: Buffer[] } {
    const framed = Buffer.concat([Buffer.alloc(5), ...sizes.map((n, i) => Buffer.alloc(n + 3, i + 1))]);
    let at = 5;
    const fields = sizes.map((n) => {
      const field = framed.subarray(at + 3, at + 3 + n);
      at += n + 3;
      return field;
    });
    return { framed, fields };
  }

  it('frees the buffer its byte fields are views of: each reads as empty afterwards, once', () => {
    const { framed, fields } = receivedMessage([150_000, 90_000]);
    expect(releaseBackingBuffer(fields)).to.equal(true);
    expect(fields.map(detached)).to.deep.equal([true, true]);
    expect(fields.map((f) => f.length)).to.deep.equal([0, 0]);
    expect(framed.length).to.equal(0);
    expect(releaseBackingBuffer(fields)).to.equal(false);
  });

  it('ignores empty fields, which protobufjs may give a buffer of their own', () => {
    const { fields } = receivedMessage([150_000]);
    expect(releaseBackingBuffer([Buffer.alloc(0), ...fields])).to.equal(true);
    expect(detached(fields[0]!)).to.equal(true);
  });

  it('leaves fields of two different buffers untouched: they are not one message', () => {
    const one = receivedMessage([150_000]).fields[0]!;
    const other = receivedMessage([150_000]).fields[0]!;
    expect(releaseBackingBuffer([one, other])).to.equal(false);
    expect([one, other].map((f) => f[0])).to.deep.equal([1, 1]);
  });

  it("leaves a small message, whose buffer may be one of Node's slabs shared with other buffers", () => {
    const small = Buffer.from('a small message');
    expect(small.buffer.byteLength).to.be.at.most(Buffer.poolSize);
    expect(releaseBackingBuffer([small.subarray(2, 7)])).to.equal(false);
    expect(small.toString()).to.equal('a small message');
  });

  it('frees nothing for a message without byte fields', () => {
    expect(releaseBackingBuffer([])).to.equal(false);
  });
});
