/**
 * What MD5 and SHA-256 share: input fed in pieces of any size, cut into 64-byte blocks
 * for the subclass's compress(), and the final padding -- a 1 bit, zeros, and the length
 * in bits as 64 bits, little-endian for MD5, big-endian for SHA-256.
 */

export class BlockHash {
  /** @param {boolean} bigEndian how the length at the end is written */
  constructor(bigEndian) {
    this.bigEndian = bigEndian;
    this.block = new Uint8Array(64);
    this.filled = 0;
    this.length = 0; // bytes so far (exact up to 2^53)
  }

  /** @param {Uint8Array} bytes @param {number} at */
  compress(bytes, at) {
    throw new Error(`compress(${bytes.length}, ${at}) belongs to a subclass`);
  }

  /** @param {Uint8Array} bytes @returns {this} */
  update(bytes) {
    this.length += bytes.length;
    let at = 0;
    if (this.filled) {
      const take = Math.min(64 - this.filled, bytes.length);
      this.block.set(bytes.subarray(0, take), this.filled);
      this.filled += take;
      at = take;
      if (this.filled < 64) return this;
      this.compress(this.block, 0);
      this.filled = 0;
    }
    for (; at + 64 <= bytes.length; at += 64) this.compress(bytes, at);
    this.block.set(bytes.subarray(at), 0);
    this.filled = bytes.length - at;
    return this;
  }

  /** Append the padding (call once, before reading the state). */
  finish() {
    const bits = this.length * 8;
    const tail = new Uint8Array((this.filled < 56 ? 64 : 128) - this.filled);
    tail[0] = 0x80;
    const end = tail.length - 8;
    const words = [Math.floor(bits / 0x100000000), bits >>> 0]; // high, low
    for (let k = 0; k < 8; k++) {
      const word = this.bigEndian ? words[k >> 2] : words[1 - (k >> 2)];
      const shift = this.bigEndian ? 24 - 8 * (k & 3) : 8 * (k & 3);
      tail[end + k] = (word >>> shift) & 0xff;
    }
    this.update(tail);
  }
}
