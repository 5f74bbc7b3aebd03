// BODY and BODYSTRUCTURE (RFC 9051 §7.5.2 and RFC 3501 §7.4.2 "BODYSTRUCTURE"; extension data per
// RFC 3501 §7.4.2: body-ext-1part = md5 [disposition [language [location]]], body-ext-mpart =
// params [disposition [language [location]]]). Formatting follows Dovecot 2.3 where the RFC leaves
// room: type and subtype as written (no case change), text/* without a charset gets
// ("charset" "us-ascii") appended (RFC 2045 §5.2 default), a missing Content-Transfer-Encoding is
// "7bit", all extension fields are always sent (NIL when absent), and a multipart without any parts
// gets one empty text/plain part (the grammar needs at least one).

import { Adjacent } from '../protocol/types.js';
import type { ResponseValue } from '../protocol/types.js';
import { envelopeOf, rawValue } from './envelope.js';
import type { MimeIndex, MimeIndexV1, MimePart } from './types.js';

export interface BodyStructureOptions {
  /** IMAP4rev2 session: message/global is sent as body-type-msg (RFC 9051 §9 media-message).
   *  IMAP4rev1 only knows MESSAGE/RFC822 there, so rev1 sessions get message/global as a basic
   *  body, as Dovecot 2.3 sends it to everyone. */
  rev2?: boolean;
}

/** RFC 9051 BODY (extended=false) or BODYSTRUCTURE (extended=true) of the whole message. */
export function bodyStructureValue(index: MimeIndex, extended: boolean, opts: BodyStructureOptions = {}): ResponseValue {
  const r = (index as MimeIndexV1).r;
  // A message that is plain 7-bit US-ASCII text is sent in the default form, lower case, as Dovecot 2.3
  // does for the top level (type names are case-insensitive, RFC 2045 §5.1).
  if (isPlain7bit(r)) {
    const out: ResponseValue[] = ['text', 'plain', ['charset', 'us-ascii'], null, null, '7bit', bodySize(r), r.n];
    if (extended) out.push(null, null, null, null);
    return out;
  }
  return partStructure(r, extended, opts);
}

/** text/plain (or no type), no parameter but charset=us-ascii, 7bit, no other Content-* field. */
function isPlain7bit(p: MimePart): boolean {
  if (p.k || p.g || p.x || p.dg) return false;
  if (p.t !== undefined && p.t.toLowerCase() !== 'text') return false;
  if (p.s !== undefined && p.s.toLowerCase() !== 'plain') return false;
  if (p.p && p.p.length > 0) {
    if (p.p.length !== 2 || p.p[0]!.toLowerCase() !== 'charset' || p.p[1]!.toLowerCase() !== 'us-ascii') return false;
  }
  if (p.c !== undefined && p.c.toLowerCase() !== '7bit') return false;
  return p.id === undefined && p.ds === undefined && p.m === undefined && p.dt === undefined && p.la === undefined && p.lo === undefined;
}

const EMPTY_TEXT: ResponseValue[] = ['text', 'plain', ['charset', 'us-ascii'], null, null, '7bit', 0, 0];

/** BODY/BODYSTRUCTURE of one part (and its descendants). */
export function partStructure(part: MimePart, extended: boolean, opts: BodyStructureOptions = {}): ResponseValue {
  if (part.k) {
    // body-type-mpart = 1*body SP media-subtype: the bodies are not separated.
    const bodies: ResponseValue[] = [];
    if (part.k.length === 0) bodies.push(extended ? [...EMPTY_TEXT, null, null, null, null] : [...EMPTY_TEXT]);
    for (const child of part.k) bodies.push(partStructure(child, extended, opts));
    const out: ResponseValue[] = [new Adjacent(bodies), rawValue(part.s ?? 'mixed')];
    if (extended) {
      out.push(paramList(part.p), disposition(part), language(part), rawValue(part.lo));
    }
    return out;
  }
  const isGlobal = part.g !== undefined && part.s !== undefined && part.s.toLowerCase() === 'global';
  const isMessage = part.g !== undefined && (!isGlobal || opts.rev2 === true);
  const type = part.x ? 'application' : (part.t ?? (part.dg ? 'message' : 'text'));
  const subtype = part.x ? 'octet-stream' : (part.s ?? (part.dg ? 'rfc822' : 'plain'));
  const isText = !isMessage && type.toLowerCase() === 'text';
  let params = part.p;
  if (isText && !hasParam(params, 'charset')) params = [...(params ?? []), 'charset', 'us-ascii'];
  const out: ResponseValue[] = [
    isMessage ? 'message' : rawValue(type),
    isMessage ? (isGlobal ? 'global' : 'rfc822') : rawValue(subtype),
    paramList(params),
    rawValue(part.id),
    rawValue(part.ds),
    rawValue(part.c ?? '7bit'),
    bodySize(part),
  ];
  if (isMessage) {
    out.push(envelopeOf(part.g!.en, part.g!.sf === 1), partStructure(part.g!, extended, opts), part.n);
  } else if (isText) {
    out.push(part.n);
  }
  if (extended) {
    out.push(rawValue(part.m), disposition(part), language(part), rawValue(part.lo));
  }
  return out;
}

/** body-fld-octets: the body's size, or the remote's for a body a partial message does not hold. */
function bodySize(part: MimePart): number {
  return part.zs ?? part.e - part.b;
}

function hasParam(params: string[] | undefined, name: string): boolean {
  if (!params) return false;
  for (let i = 0; i < params.length; i += 2) if (params[i]!.toLowerCase() === name) return true;
  return false;
}

function paramList(params: string[] | undefined): ResponseValue {
  if (!params || params.length === 0) return null;
  return params.map((p) => rawValue(p));
}

function disposition(part: MimePart): ResponseValue {
  if (part.dt === undefined) return null;
  return [rawValue(part.dt), paramList(part.dp)];
}

function language(part: MimePart): ResponseValue {
  if (!part.la || part.la.length === 0) return null;
  return part.la.map((l) => rawValue(l));
}

