// Parsing ENVELOPE and BODYSTRUCTURE FETCH data into typed trees. RFC 9051 §7.5.2 (ENVELOPE field order,
// address structure and RFC 5322 group markers; BODYSTRUCTURE basic fields, extension data, part numbering
// of §6.4.5), §9 (body, body-type-1part, body-type-mpart, body-ext-*), RFC 2047 (encoded words in
// envelope text, decoded here for convenience), RFC 2231 (`name*` parameters, decoded).
import type { ImapArg } from '../protocol/types.js';
import type { Address, BodyStructure, Envelope } from './types.js';
import { bytes, isNil, list, num, str } from './values.js';

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

function decodeBytes(b: Buffer, charset: string): string {
  const cs = charset.replace(/\*.*$/, '').toLowerCase();
  try {
    return new TextDecoder(cs === 'utf8' ? 'utf-8' : cs).decode(b);
  } catch {
    return b.toString('latin1');
  }
}

/** RFC 2047 encoded words → text; whitespace between adjacent encoded words is dropped (§6.2). */
export function decodeWords(s: string): string {
  if (!s.includes('=?')) return s;
  const joined = s.replace(/(\?=)\s+(=\?)/g, '$1$2');
  return joined.replace(ENCODED_WORD, (whole, charset: string, enc: string, text: string) => {
    try {
      let b: Buffer;
      if (enc.toUpperCase() === 'B') b = Buffer.from(text, 'base64');
      else b = Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      return decodeBytes(b, charset);
    } catch {
      return whole;
    }
  });
}

function text(a: ImapArg | undefined): string | undefined {
  const b = bytes(a);
  if (b === null) return undefined;
  return decodeWords(b.toString('utf8'));
}

function parseAddresses(a: ImapArg | undefined): Address[] {
  const out: Address[] = [];
  for (const item of list(a) ?? []) {
    const f = list(item);
    if (!f) continue;
    const name = text(f[0]);
    const mailbox = str(f[2]);
    const host = str(f[3]);
    if (host === undefined) {
      // Group syntax: (NIL NIL "group" NIL) starts, (NIL NIL NIL NIL) ends (RFC 9051 §7.5.2).
      if (mailbox !== undefined) out.push({ group: decodeWords(mailbox) });
      continue;
    }
    const addr: Address = { address: mailbox !== undefined ? `${mailbox}@${host}` : host };
    if (name !== undefined) addr.name = name;
    out.push(addr);
  }
  return out;
}

export function parseEnvelope(a: ImapArg | undefined): Envelope | undefined {
  const f = list(a);
  if (!f) return undefined;
  const env: Envelope = {
    from: parseAddresses(f[2]),
    sender: parseAddresses(f[3]),
    replyTo: parseAddresses(f[4]),
    to: parseAddresses(f[5]),
    cc: parseAddresses(f[6]),
    bcc: parseAddresses(f[7]),
  };
  const date = str(f[0]);
  if (date !== undefined) env.date = date;
  const subject = text(f[1]);
  if (subject !== undefined) env.subject = subject;
  const irt = str(f[8]);
  if (irt !== undefined) env.inReplyTo = irt;
  const mid = str(f[9]);
  if (mid !== undefined) env.messageId = mid;
  return env;
}

/** `("charset" "utf-8" "name*" "utf-8''%E2%82%AC")` → { charset: 'utf-8', name: '€' }. */
function parseParams(a: ImapArg | undefined): Record<string, string> {
  const items = list(a) ?? [];
  const out: Record<string, string> = {};
  const continued = new Map<string, Array<{ idx: number; value: string; encoded: boolean }>>();
  for (let i = 0; i + 1 < items.length; i += 2) {
    const key = str(items[i])?.toLowerCase();
    const value = str(items[i + 1]) ?? '';
    if (key === undefined) continue;
    const m = /^(.+?)\*(\d+)?(\*)?$/.exec(key);
    if (m) {
      const base = m[1]!;
      const idx = m[2] !== undefined ? Number(m[2]) : 0;
      const encoded = m[3] !== undefined || (m[2] === undefined && key.endsWith('*'));
      const arr = continued.get(base) ?? [];
      arr.push({ idx, value, encoded });
      continued.set(base, arr);
    } else {
      out[key] = decodeWords(value);
    }
  }
  for (const [base, parts] of continued) {
    parts.sort((x, y) => x.idx - y.idx);
    let charset = 'utf-8';
    const chunks: Buffer[] = [];
    parts.forEach((p, n) => {
      let v = p.value;
      if (p.encoded) {
        if (n === 0) {
          const q = /^([^']*)'[^']*'(.*)$/.exec(v);
          if (q) {
            charset = q[1] || 'us-ascii';
            v = q[2]!;
          }
        }
        chunks.push(Buffer.from(v.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1'));
      } else chunks.push(Buffer.from(v, 'utf8'));
    });
    out[base] = decodeBytes(Buffer.concat(chunks), charset);
  }
  return out;
}

function parseDisposition(a: ImapArg | undefined): BodyStructure['disposition'] {
  const f = list(a);
  if (!f) return undefined;
  const type = str(f[0]);
  if (type === undefined) return undefined;
  return { type: type.toLowerCase(), parameters: parseParams(f[1]) };
}

function parseLanguage(a: ImapArg | undefined): string[] | undefined {
  if (isNil(a)) return undefined;
  const l = list(a);
  if (l) return l.flatMap((x) => (str(x) !== undefined ? [str(x)!] : []));
  const s = str(a);
  return s !== undefined ? [s] : undefined;
}

function extension(node: BodyStructure, f: ImapArg[], start: number): void {
  const disp = parseDisposition(f[start]);
  if (disp) node.disposition = disp;
  const lang = parseLanguage(f[start + 1]);
  if (lang) node.language = lang;
  const loc = str(f[start + 2]);
  if (loc !== undefined) node.location = loc;
}

/** BODYSTRUCTURE / BODY data → tree with section numbers. */
export function parseBodyStructure(a: ImapArg | undefined): BodyStructure | undefined {
  const f = list(a);
  if (!f) return undefined;
  return parseNode(f, '', 0);
}

function parseNode(f: ImapArg[], path: string, depth: number): BodyStructure {
  if (depth > 100) throw new Error('BODYSTRUCTURE nested too deeply');
  if (f[0]?.type === 'list') {
    // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    let i = 0;
    const children: BodyStructure[] = [];
    while (f[i]?.type === 'list') {
      const childPath = path === '' ? String(i + 1) : `${path}.${i + 1}`;
      children.push(parseNode((f[i] as { items: ImapArg[] }).items, childPath, depth + 1));
      i++;
    }
    const node: BodyStructure = { part: path, type: 'multipart', subtype: (str(f[i]) ?? 'mixed').toLowerCase(), parameters: parseParams(f[i + 1]), children };
    extension(node, f, i + 2);
    return node;
  }
  // body-type-1part: type subtype params id desc encoding size ...
  const part = path === '' ? '1' : path;
  const type = (str(f[0]) ?? 'text').toLowerCase();
  const subtype = (str(f[1]) ?? 'plain').toLowerCase();
  const node: BodyStructure = { part, type, subtype, parameters: parseParams(f[2]) };
  const id = str(f[3]);
  if (id !== undefined) node.id = id;
  const desc = text(f[4]);
  if (desc !== undefined) node.description = desc;
  const enc = str(f[5]);
  if (enc !== undefined) node.encoding = enc.toLowerCase();
  const size = num(f[6]);
  if (size !== undefined) node.size = size;
  let next = 7;
  if (type === 'message' && (subtype === 'rfc822' || subtype === 'global') && f[7]?.type === 'list' && f[8]?.type === 'list') {
    const env = parseEnvelope(f[7]);
    if (env) node.envelope = env;
    // The enclosed message's parts are numbered below this part: a multipart's children are part.1,
    // part.2...; a single body is part.1 (RFC 9051 §6.4.5).
    const inner = (f[8] as { items: ImapArg[] }).items;
    const child = inner[0]?.type === 'list' ? parseNode(inner, part, depth + 1) : parseNode(inner, `${part}.1`, depth + 1);
    node.children = [child];
    const lines = num(f[9]);
    if (lines !== undefined) node.lines = lines;
    next = 10;
  } else if (type === 'text') {
    const lines = num(f[7]);
    if (lines !== undefined) node.lines = lines;
    next = 8;
  }
  const md5 = str(f[next]);
  if (md5 !== undefined) node.md5 = md5;
  extension(node, f, next + 1);
  return node;
}

/** Depth-first walk over the tree. */
export function* walkBodyStructure(node: BodyStructure): Generator<BodyStructure> {
  yield node;
  for (const c of node.children ?? []) yield* walkBodyStructure(c);
}
