/**
 * The binary tensor data framing (src/oip/binary.ts): what a well-framed body turns into, and
 * every lie about a length refused before it is used.
 */
import { expect } from 'chai';
import { BinaryDataInvalid } from '../../../src/errors.js';
import { readBytesElements, readFp32, sliceTensors, splitHeader, writeBody, writeBytesElements, writeFp32 } from '../../../src/oip/binary.js';

const element = (text: string): Buffer => {
  const bytes = Buffer.from(text);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(bytes.length);
  return Buffer.concat([length, bytes]);
};

describe('binary tensor data framing', () => {
  it('splits a body at the end of its JSON header, and refuses a header longer than the body', () => {
    const { header, tail } = splitHeader(Buffer.from('{"a":1}xyz'), 7);
    expect(header.toString()).to.equal('{"a":1}');
    expect(tail.toString()).to.equal('xyz');
    expect(() => splitHeader(Buffer.from('{}'), 3)).to.throw(BinaryDataInvalid, 'Inference-Header-Content-Length is 3, but the body has 2 bytes');
  });

  it('cuts the tensors in order by binary_data_size, without copying', () => {
    const tail = Buffer.from('aaabbbbb');
    const [a, b] = sliceTensors(tail, [{ name: 'a', size: 3 }, { name: 'b', size: 5 }]);
    expect(a!.toString()).to.equal('aaa');
    expect(b!.toString()).to.equal('bbbbb');
    expect(b!.buffer).to.equal(tail.buffer);
  });

  it('refuses a binary_data_size past the end, and bytes no tensor declares', () => {
    expect(() => sliceTensors(Buffer.from('abc'), [{ name: 'image', size: 4 }])).to.throw(BinaryDataInvalid, 'Input "image" declares binary_data_size 4, but only 3 bytes are left');
    expect(() => sliceTensors(Buffer.from('abcd'), [{ name: 'image', size: 3 }])).to.throw(BinaryDataInvalid, '1 bytes follow the binary tensors');
  });

  it('reads BYTES elements, empty ones included', () => {
    const tensor = Buffer.concat([element('cat'), element(''), element('dog!')]);
    expect(readBytesElements('image', tensor, 10).map(String)).to.deep.equal(['cat', '', 'dog!']);
  });

  it('refuses an element whose 4-byte length runs past its tensor, or is itself cut short', () => {
    const tensor = element('cat');
    tensor.writeUInt32LE(1_000_000_000, 0);
    expect(() => readBytesElements('image', tensor, 10)).to.throw(BinaryDataInvalid, 'Input "image" element 0 declares 1000000000 bytes, but its tensor has 3 left');
    expect(() => readBytesElements('image', Buffer.concat([element('a'), Buffer.from([1, 0])]), 10)).to.throw(BinaryDataInvalid, 'element 1: its 4-byte length is cut short');
  });

  it('stops reading elements once there are more than the shape allows', () => {
    const tensor = Buffer.concat(Array.from({ length: 1000 }, () => element('')));
    expect(readBytesElements('image', tensor, 3)).to.have.length(4);
  });

  it('writes BYTES and FP32 tensors as the extension lays them out, little-endian', () => {
    expect(writeBytesElements([Buffer.from('Cat'), Buffer.from('Dog')])).to.deep.equal(Buffer.concat([element('Cat'), element('Dog')]));
    const fp32 = writeFp32([1, -0.5]);
    expect([...fp32]).to.deep.equal([0, 0, 0x80, 0x3f, 0, 0, 0, 0xbf]);
    expect([...readFp32(fp32)]).to.deep.equal([1, -0.5]);
  });

  it('writes a body: the JSON header, its length, then the tensors', () => {
    const { body, headerLength } = writeBody({ outputs: [] }, [Buffer.from('xy')]);
    expect(headerLength).to.equal('{"outputs":[]}'.length);
    expect(body.toString()).to.equal('{"outputs":[]}xy');
  });
});
