// Modified UTF-7 mailbox names, RFC 3501 §5.1.3 (also RFC 9051 Appendix A.1 for IMAP4rev1 clients).
// Printable US-ASCII except "&" stands for itself; "&" is "&-"; anything else is UTF-16BE in modified
// BASE64 ("," instead of "/", no padding) between "&" and "-". Decoding is strict: it rejects every
// encoding the encoder would not produce, so decode(encode(x)) === x and encode(decode(y)) === y.

export class Mutf7Error extends Error {
  override readonly name = 'Mutf7Error';
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const B64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

function isDirect(code: number): boolean {
  return code >= 0x20 && code <= 0x7e && code !== 0x26;
}

/** Unicode mailbox name → modified UTF-7. */
export function encodeMailboxName(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const code = name.charCodeAt(i);
    if (code === 0x26) {
      out += '&-';
      i++;
      continue;
    }
    if (isDirect(code)) {
      out += name[i];
      i++;
      continue;
    }
    // A run of characters that need encoding, as UTF-16 code units.
    let j = i;
    while (j < name.length && !isDirectOrAmp(name.charCodeAt(j))) j++;
    out += '&' + base64Units(name, i, j) + '-';
    i = j;
  }
  return out;
}

function isDirectOrAmp(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

function isLow(u: number): boolean {
  return u >= 0xdc00 && u <= 0xdfff;
}

function base64Units(s: string, from: number, to: number): string {
  let out = '';
  let bits = 0;
  let nbits = 0;
  for (let k = from; k < to; k++) {
    const u = s.charCodeAt(k);
    if (u >= 0xd800 && u <= 0xdfff) {
      const pairOk =
        u <= 0xdbff ? k + 1 < to && isLow(s.charCodeAt(k + 1)) : k > from && s.charCodeAt(k - 1) <= 0xdbff && s.charCodeAt(k - 1) >= 0xd800;
      if (!pairOk) throw new Mutf7Error('Unpaired UTF-16 surrogate');
    }
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += B64[(bits >> nbits) & 0x3f];
    }
    bits &= (1 << nbits) - 1;
  }
  if (nbits > 0) out += B64[(bits << (6 - nbits)) & 0x3f];
  return out;
}

/** Modified UTF-7 → Unicode. Throws Mutf7Error on anything that is not the canonical encoding. */
export function decodeMailboxName(s: string): string {
  let out = '';
  let i = 0;
  let lastShiftEnd = -1;
  while (i < s.length) {
    const code = s.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) throw new Mutf7Error('Mailbox name contains a character outside printable US-ASCII');
    if (code !== 0x26) {
      out += s[i];
      i++;
      continue;
    }
    const end = s.indexOf('-', i + 1);
    if (end < 0) throw new Mutf7Error('Unterminated "&" sequence');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    if (lastShiftEnd === i) throw new Mutf7Error('Adjacent encoded sequences must be merged');
    out += decodeBase64Run(s, i + 1, end);
    i = end + 1;
    lastShiftEnd = i;
  }
  return out;
}

function decodeBase64Run(s: string, from: number, to: number): string {
  let bits = 0;
  let nbits = 0;
  const units: number[] = [];
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k);
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0) throw new Mutf7Error(`Invalid character "${s[k]}" in modified BASE64`);
    bits = (bits << 6) | v;
    nbits += 6;
    if (nbits >= 16) {
      nbits -= 16;
      units.push((bits >> nbits) & 0xffff);
      bits &= (1 << nbits) - 1;
    }
  }
  // Leftover bits must be fewer than 6 (no extra character) and all zero.
  if (nbits >= 6 || bits !== 0) throw new Mutf7Error('Modified BASE64 sequence has trailing bits');
  if (units.length === 0) throw new Mutf7Error('Empty modified BASE64 sequence');
  let out = '';
  for (let k = 0; k < units.length; k++) {
    const u = units[k]!;
    if (isDirectOrAmp(u)) throw new Mutf7Error('Printable US-ASCII must not be encoded');
    if (u >= 0xd800 && u <= 0xdbff) {
      const lo = units[k + 1];
      if (lo === undefined || lo < 0xdc00 || lo > 0xdfff) throw new Mutf7Error('Unpaired UTF-16 surrogate');
      out += String.fromCharCode(u, lo);
      k++;
      continue;
    }
    if (u >= 0xdc00 && u <= 0xdfff) throw new Mutf7Error('Unpaired UTF-16 surrogate');
    out += String.fromCharCode(u);
  }
  return out;
}
