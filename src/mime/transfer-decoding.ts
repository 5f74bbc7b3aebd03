// Content-Transfer-Encoding decoders for BINARY[] / BINARY.SIZE (RFC 3516) and SEARCH:
// base64 (RFC 2045 §6.8: characters outside the alphabet are ignored, decoding stops at padding)
// and quoted-printable (RFC 2045 §6.7: soft line breaks, =XX, trailing white space removed).
// Streaming, so a 40 MB attachment is never held whole; 7bit/8bit/binary are the identity.

/** A streaming decoder: feed chunks, collect output; `end()` flushes what is left. */
export interface TransferDecoder {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
}

/** Normalises a Content-Transfer-Encoding value; '' when absent. */
export function normalizeEncoding(encoding: string | undefined | null): string {
  return (encoding ?? '').trim().toLowerCase();
}

/** A decoder for the encoding, or null when it is unknown (the server answers [UNKNOWN-CTE]). */
export function createTransferDecoder(encoding: string | undefined | null): TransferDecoder | null {
  switch (normalizeEncoding(encoding)) {
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return { push: (c) => c, end: () => Buffer.alloc(0) };
    case 'base64':
      return new Base64Decoder();
    case 'quoted-printable':
      return new QuotedPrintableDecoder();
    default:
      return null;
  }
}

/**
 * `dec` fed with its input's bare LFs turned into CRLF first. RFC 9051 §7.5.2 (BINARY) and RFC 3516 §6:
 * textual line-oriented sections MUST go out with CRLF line ends whatever the storage holds, and mail
 * APPENDed with bare LF is stored as received. Applied to the encoded bytes, so a quoted-printable hard
 * line break becomes CRLF while an encoded =0A stays as sent, and base64 (which skips line ends) is
 * unaffected. A CR ending one chunk pairs with an LF starting the next.
 */
export function withCrlfLineEnds(dec: TransferDecoder): TransferDecoder {
  let prevCR = false;
  const crlf = (chunk: Buffer): Buffer => {
    if (chunk.length === 0) return chunk;
    let nl = chunk.indexOf(10);
    const out: Buffer[] = [];
    let start = 0;
    while (nl >= 0) {
      if (!(nl > 0 ? chunk[nl - 1] === 13 : prevCR)) {
        out.push(chunk.subarray(start, nl), CRLF);
        start = nl + 1;
      }
      nl = chunk.indexOf(10, nl + 1);
    }
    prevCR = chunk[chunk.length - 1] === 13;
    if (out.length === 0) return chunk;
    if (start < chunk.length) out.push(chunk.subarray(start));
    return Buffer.concat(out);
  };
  return { push: (c) => dec.push(crlf(c)), end: () => dec.end() };
}

const CRLF = Buffer.from('\r\n');

/** Decodes a whole buffer; null for an unknown encoding. */
export function decodeTransferEncoding(data: Buffer, encoding: string): Buffer | null {
  const d = createTransferDecoder(encoding);
  if (!d) return null;
  const a = d.push(data);
  const b = d.end();
  return b.length === 0 ? a : Buffer.concat([a, b]);
}

const B64 = new Int8Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => {
  B64[c.charCodeAt(0)] = i;
});

class Base64Decoder implements TransferDecoder {
  private acc = 0;
  private bits = 0;
  private done = false;

  push(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(Math.floor((chunk.length * 3) / 4) + 3);
    let o = 0;
    if (this.done) return out.subarray(0, 0);
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 61) {
        // '=': padding ends the data (RFC 2045 §6.8).
        this.done = true;
        break;
      }
      const v = B64[c]!;
      if (v < 0) continue;
      this.acc = (this.acc << 6) | v;
      this.bits += 6;
      if (this.bits >= 8) {
        this.bits -= 8;
        out[o++] = (this.acc >> this.bits) & 0xff;
        this.acc &= (1 << this.bits) - 1;
      }
    }
    return out.subarray(0, o);
  }

  end(): Buffer {
    return Buffer.alloc(0);
  }
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

class QuotedPrintableDecoder implements TransferDecoder {
  /** Undecided bytes carried over: a trailing white-space run or an incomplete '=' escape. */
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const [out, used] = this.decode(data, false);
    this.carry = Buffer.from(data.subarray(used));
    return out;
  }

  end(): Buffer {
    const [out] = this.decode(this.carry, true);
    this.carry = Buffer.alloc(0);
    return out;
  }

  /** Decodes as far as is decidable; returns the output and how many input bytes it used. */
  private decode(data: Buffer, final: boolean): [Buffer, number] {
    const out = Buffer.allocUnsafe(data.length);
    let o = 0;
    let i = 0;
    const n = data.length;
    while (i < n) {
      const c = data[i]!;
      if (c === 0x20 || c === 0x09) {
        // White space: dropped when only white space follows up to the line end (transport padding).
        let j = i;
        while (j < n && (data[j] === 0x20 || data[j] === 0x09)) j++;
        if (j === n) {
          if (!final) break;
          i = j;
          continue;
        }
        if (data[j] === 0x0a || (data[j] === 0x0d && (j + 1 >= n ? !final : data[j + 1] === 0x0a))) {
          if (data[j] === 0x0d && j + 1 >= n) break;
          i = j;
          continue;
        }
        data.copy(out, o, i, j);
        o += j - i;
        i = j;
        continue;
      }
      if (c === 0x3d) {
        if (i + 1 >= n) {
          if (!final) break;
          out[o++] = c;
          i++;
          continue;
        }
        const c1 = data[i + 1]!;
        if (c1 === 0x0a) {
          i += 2; // soft line break (bare LF)
          continue;
        }
        if (c1 === 0x0d) {
          if (i + 2 >= n) {
            if (!final) break;
            i += 2;
            continue;
          }
          if (data[i + 2] === 0x0a) {
            i += 3;
            continue;
          }
        }
        if (c1 === 0x20 || c1 === 0x09) {
          // "=" followed by white space up to the line end is a soft line break with padding.
          let j = i + 1;
          while (j < n && (data[j] === 0x20 || data[j] === 0x09)) j++;
          if (j === n && !final) break;
          if (j === n || data[j] === 0x0a) {
            i = Math.min(n, j + 1);
            continue;
          }
          if (data[j] === 0x0d) {
            if (j + 1 >= n && !final) break;
            i = Math.min(n, j + 2);
            continue;
          }
        }
        if (i + 2 >= n) {
          if (!final) break;
          out[o++] = c;
          i++;
          continue;
        }
        const h1 = hexVal(c1);
        const h2 = hexVal(data[i + 2]!);
        if (h1 >= 0 && h2 >= 0) {
          out[o++] = (h1 << 4) | h2;
          i += 3;
        } else {
          out[o++] = c; // malformed escape: keep the '=' literally (RFC 2045 §6.7 note 1)
          i++;
        }
        continue;
      }
      out[o++] = c;
      i++;
    }
    return [out.subarray(0, o), i];
  }
}
