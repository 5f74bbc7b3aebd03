// FETCH / UID FETCH: RFC 9051 §6.4.5 (data items, BODY.PEEK, sections and partials), §7.5.2 (FETCH
// response data items), RFC 3516 (BINARY[], BINARY.SIZE, literal8), RFC 7162 §3.1.4 (MODSEQ item,
// CHANGEDSINCE modifier), §3.2.6 (VANISHED modifier → VANISHED (EARLIER) responses), RFC 8474 §5
// (EMAILID, THREADID). Results arrive as an async iterable; big sections can be streamed to a Writable
// while they arrive (reading from the server pauses while the Writable is full).
import { PassThrough, Readable, type Writable } from 'node:stream';
import { parseDateTimeWithZone } from '../../protocol/dates.js';
import type { ImapArg, LiteralSink } from '../../protocol/types.js';
import { parseBodyStructure, parseEnvelope } from '../body-structure.js';
import { plist, type CommandArg } from '../command-encoder.js';
import { parseVanished, type ClientConnection, type LiteralOpenInfo, type Untagged } from '../connection.js';
import { ImapError } from '../errors.js';
import type { FetchedMessage, FetchedSection, FetchOptions, FetchQuery, Range, SectionRequest, StreamSectionInfo } from '../types.js';
import { bytes, list, num, str } from '../values.js';
import { formatRange } from './util.js';

/** Normalises a section spec for comparison: upper case, single spaces, no quotes. */
export function normalizeSection(section: string): string {
  return section.replace(/"/g, '').replace(/\s+/g, ' ').replace(/\(\s+/g, '(').replace(/\s+\)/g, ')').trim().toUpperCase();
}

function sectionItem(req: SectionRequest): string {
  const base = req.binary ? 'BINARY' : 'BODY';
  const peek = req.peek === false ? '' : '.PEEK';
  const partial = req.partial ? `<${req.partial.origin}.${req.partial.count}>` : '';
  return `${base}${peek}[${req.section}]${partial}`;
}

export function buildFetchItems(query: FetchQuery, opts: { uid?: boolean; condstore: boolean; objectId: boolean }): CommandArg[] {
  const items: string[] = [];
  if (query.uid || opts.uid) items.push('UID');
  if (query.flags) items.push('FLAGS');
  if (query.modSeq && opts.condstore) items.push('MODSEQ');
  if (query.internalDate) items.push('INTERNALDATE');
  if (query.size) items.push('RFC822.SIZE');
  if (query.envelope) items.push('ENVELOPE');
  if (query.bodyStructure) items.push('BODYSTRUCTURE');
  if (query.emailId && opts.objectId) items.push('EMAILID');
  if (query.threadId && opts.objectId) items.push('THREADID');
  for (const s of query.sections ?? []) items.push(sectionItem(typeof s === 'string' ? { section: s } : s));
  for (const s of query.binarySize ?? []) items.push(`BINARY.SIZE[${s}]`);
  if (items.length === 0) items.push('UID');
  return items;
}

const SECTION_NAME = /^(BODY|BINARY)\[([^\]]*)\](?:<(\d+)>)?$/i;

function sectionOf(name: string): { section: string; binary: boolean; origin?: number } | null {
  const up = name.toUpperCase();
  if (up === 'RFC822') return { section: '', binary: false };
  if (up === 'RFC822.HEADER') return { section: 'HEADER', binary: false };
  if (up === 'RFC822.TEXT') return { section: 'TEXT', binary: false };
  const m = SECTION_NAME.exec(name);
  if (!m) return null;
  const out: { section: string; binary: boolean; origin?: number } = { section: normalizeSection(m[2]!), binary: m[1]!.toUpperCase() === 'BINARY' };
  if (m[3] !== undefined) out.origin = Number(m[3]);
  return out;
}

/** One `* n FETCH (...)` → FetchedMessage. */
export function parseFetchResponse(seq: number, args: readonly ImapArg[]): FetchedMessage {
  const msg: FetchedMessage = { seq, sections: [] };
  const items = list(args[0]) ?? [];
  for (let i = 0; i + 1 < items.length; i += 2) {
    const keyArg = items[i]!;
    if (keyArg.type !== 'atom') throw new ImapError('FETCH item name is not an atom');
    const key = keyArg.value;
    const v = items[i + 1]!;
    const up = key.toUpperCase();
    switch (up) {
      case 'UID': {
        const n = num(v);
        if (n !== undefined) msg.uid = n;
        break;
      }
      case 'FLAGS':
        msg.flags = (list(v) ?? []).flatMap((f) => (str(f) !== undefined ? [str(f)!] : []));
        break;
      case 'MODSEQ': {
        const n = num(list(v)?.[0]);
        if (n !== undefined) msg.modSeq = n;
        break;
      }
      case 'INTERNALDATE': {
        const s = str(v);
        if (s !== undefined) {
          msg.internalDateRaw = s;
          try {
            const d = parseDateTimeWithZone(s);
            msg.internalDate = new Date(d.ms);
            msg.internalDateOffset = d.offsetMinutes;
          } catch {
            /* keep the raw text only */
          }
        }
        break;
      }
      case 'RFC822.SIZE': {
        const n = num(v);
        if (n !== undefined) msg.size = n;
        break;
      }
      case 'ENVELOPE': {
        const env = parseEnvelope(v);
        if (env) msg.envelope = env;
        break;
      }
      case 'BODYSTRUCTURE':
      case 'BODY': {
        const bs = parseBodyStructure(v);
        if (bs) msg.bodyStructure = bs;
        break;
      }
      case 'EMAILID': {
        const s = str(list(v)?.[0]);
        if (s !== undefined) msg.emailId = s;
        break;
      }
      case 'THREADID': {
        const s = str(list(v)?.[0]);
        if (s !== undefined) msg.threadId = s;
        break;
      }
      default: {
        if (up.startsWith('BINARY.SIZE[')) {
          const n = num(v);
          if (n !== undefined) (msg.binarySizes ??= {})[normalizeSection(key.slice(12, -1))] = n;
          break;
        }
        const sec = sectionOf(key);
        if (!sec) break; // an item we did not ask for (X-GM-..., PREVIEW): ignored
        const entry: FetchedSection = { section: sec.section, binary: sec.binary, size: 0, streamed: false };
        if (sec.origin !== undefined) entry.origin = sec.origin;
        if (v.type === 'stream') {
          entry.streamed = true;
          entry.size = v.size;
        } else {
          const b = bytes(v);
          entry.data = b;
          entry.size = b?.length ?? 0;
        }
        msg.sections.push(entry);
      }
    }
  }
  return msg;
}

/** The bytes of a fetched section ('' = whole message), or undefined. */
export function sectionData(msg: FetchedMessage, section = '', binary = false): Buffer | undefined {
  const want = normalizeSection(section);
  const s = msg.sections.find((x) => x.section === want && x.binary === binary);
  return s?.data ?? undefined;
}

const STREAM_ITEM = /((?:BODY|BINARY)\[[^\]]*\](?:<\d+>)?|RFC822(?:\.HEADER|\.TEXT)?)\s*$/i;

/** Works out which message and section a literal belongs to, from the response text before it. */
function literalTarget(info: LiteralOpenInfo): StreamSectionInfo | null {
  const head = info.context.head.toString('latin1');
  const m = /^\*\s+(\d+)\s+FETCH\s/i.exec(head);
  if (!m) return null;
  const item = STREAM_ITEM.exec(info.context.line.toString('latin1'));
  if (!item) return null;
  const sec = sectionOf(item[1]!);
  if (!sec) return null;
  const out: StreamSectionInfo = { seq: Number(m[1]), section: sec.section, binary: sec.binary, size: info.size };
  const uid = /[( ]UID\s+(\d+)/i.exec(head);
  if (uid) out.uid = Number(uid[1]);
  return out;
}

/** A LiteralSink writing into a Writable, pausing the connection while the Writable is full. */
function writableSink(conn: ClientConnection, w: Writable, track: Set<Writable>): LiteralSink {
  track.add(w);
  let waiting = false;
  return {
    write(chunk) {
      if (!w.write(chunk) && !waiting) {
        waiting = true;
        conn.pauseReading();
        const done = () => {
          w.off('drain', done);
          w.off('close', done);
          waiting = false;
          conn.resumeReading();
        };
        w.on('drain', done);
        w.on('close', done);
      }
    },
    end() {
      track.delete(w);
      w.end();
    },
    abort(reason) {
      track.delete(w);
      w.destroy(new ImapError(`Download aborted: ${reason}`));
    },
  };
}

/** Async iterable of FETCH results; `vanished` collects VANISHED (EARLIER) UIDs (RFC 7162 §3.2.6). */
export interface FetchStream extends AsyncIterable<FetchedMessage> {
  readonly vanished: number[];
}

const HIGH_WATER = 256;
const LOW_WATER = 32;

export function fetchMessages(conn: ClientConnection, range: Range, query: FetchQuery, opts: FetchOptions = {}): FetchStream {
  const vanished: number[] = [];
  const uidMode = opts.uid === true;
  const name = uidMode ? 'UID FETCH' : 'FETCH';
  const condstore = conn.capabilities.has('CONDSTORE') || conn.capabilities.has('QRESYNC');
  const items = buildFetchItems(query, { uid: uidMode, condstore, objectId: conn.capabilities.has('OBJECTID') });
  const args: CommandArg[] = [formatRange(range), plist(items)];
  if (opts.changedSince !== undefined) {
    const mods: CommandArg[] = ['CHANGEDSINCE', opts.changedSince];
    if (opts.vanished && uidMode && conn.enabled.has('QRESYNC')) mods.push('VANISHED');
    args.push(plist(mods));
  }

  async function* run(): AsyncGenerator<FetchedMessage> {
    const queue: FetchedMessage[] = [];
    let finished = false;
    let discard = false;
    let error: Error | null = null;
    let wake: (() => void) | null = null;
    let paused = false;
    const sinks = new Set<Writable>();
    const onUntagged = (u: Untagged): boolean => {
      if (u.kind !== 'data') return false;
      if (u.keyword === 'FETCH' && u.number !== undefined) {
        const msg = parseFetchResponse(u.number, u.args);
        // Unsolicited flag updates for other messages may arrive in between; a UID FETCH answer
        // always carries UID (RFC 9051 §6.4.9), so a FETCH without UID is not ours.
        if (uidMode && msg.uid === undefined) return false;
        if (discard) return true;
        queue.push(msg);
        if (!paused && queue.length >= HIGH_WATER) {
          paused = true;
          conn.pauseReading();
        }
        wake?.();
        return true;
      }
      if (u.keyword === 'VANISHED') {
        const v = parseVanished(u.args);
        if (!v.earlier) return false;
        vanished.push(...v.uids);
        return true;
      }
      return false;
    };
    const onLiteral = opts.streamSection
      ? (info: LiteralOpenInfo): LiteralSink | undefined => {
          const target = literalTarget(info);
          if (!target || discard) return undefined;
          const w = opts.streamSection!(target);
          return w ? writableSink(conn, w, sinks) : undefined;
        }
      : undefined;
    const done = conn.run(name, args, onLiteral ? { onUntagged, onLiteral } : { onUntagged });
    done.then(
      () => {
        finished = true;
        wake?.();
      },
      (err: Error) => {
        error = err;
        finished = true;
        for (const w of sinks) w.destroy(err);
        sinks.clear();
        wake?.();
      },
    );
    const signal = opts.signal;
    const onAbort = () => {
      error ??= signal?.reason instanceof Error ? signal.reason : new ImapError('Fetch aborted');
      finished = true;
      wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) onAbort();
        if (queue.length > 0 && !(signal?.aborted)) {
          const msg = queue.shift()!;
          if (paused && queue.length <= LOW_WATER) {
            paused = false;
            conn.resumeReading();
          }
          yield msg;
          continue;
        }
        if (finished) {
          if (error) throw error;
          return;
        }
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      discard = true;
      queue.length = 0;
      if (paused) {
        paused = false;
        conn.resumeReading();
      }
    }
  }

  return {
    vanished,
    [Symbol.asyncIterator]: () => run(),
  };
}

export interface DownloadResult {
  seq: number;
  uid?: number;
  /** Octets that will come out of `content`. */
  size: number;
  content: Readable;
}

/**
 * Downloads one body section as a stream: resolves as soon as its first byte is on the way (or with the
 * whole value when the server sent it inline), or null when the message does not exist.
 */
export function downloadSection(
  conn: ClientConnection,
  id: number,
  section: string,
  opts: { uid?: boolean; binary?: boolean; signal?: AbortSignal; peek?: boolean } = {},
): Promise<DownloadResult | null> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (v: DownloadResult | null, err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(v);
    };
    const want = normalizeSection(section);
    const req: SectionRequest = { section, binary: opts.binary === true, peek: opts.peek !== false };
    const stream = fetchMessages(
      conn,
      id,
      { uid: true, sections: [req] },
      {
        uid: opts.uid !== false,
        ...(opts.signal ? { signal: opts.signal } : {}),
        streamSection: (info) => {
          if (settled || info.section !== want || info.binary !== (opts.binary === true)) return undefined;
          const pt = new PassThrough();
          const r: DownloadResult = { seq: info.seq, size: info.size, content: pt };
          if (info.uid !== undefined) r.uid = info.uid;
          settle(r);
          return pt;
        },
      },
    );
    void (async () => {
      try {
        for await (const msg of stream) {
          if (settled) continue;
          const s = msg.sections.find((x) => x.section === want && x.binary === (opts.binary === true));
          if (!s) continue;
          const data = s.data ?? Buffer.alloc(0);
          const r: DownloadResult = { seq: msg.seq, size: data.length, content: Readable.from([data]) };
          if (msg.uid !== undefined) r.uid = msg.uid;
          settle(r);
        }
        settle(null);
      } catch (err) {
        settle(null, err as Error);
      }
    })();
  });
}
