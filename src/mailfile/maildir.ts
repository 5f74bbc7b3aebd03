// Maildir trees on disk, read side (https://cr.yp.to/proto/maildir.html; Maildir++ folders as in Courier's
// maildir++ description and Dovecot's layouts):
// - a folder is a directory with cur/ and/or new/ (tmp/ is never read: files there are not delivered yet);
// - a message file name is "<unique>[:2,<info>]" (";" and "!" accepted for ":" as some tools use them); the
//   info letters are the flags (flags.ts), lowercase letters are keywords from the folder's dovecot-keywords;
// - layout "maildir++": the root is INBOX, sub-folders are root directories ".Sub.Folder" ("." is the
//   hierarchy separator, levels in modified UTF-7 as Dovecot writes them, RFC 3501 §5.1.3) → "Sub/Folder";
//   layout "fs": plain nested directories, "Sub/Folder/{cur,new,tmp}" → "Sub/Folder".
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeMailboxName, encodeMailboxName } from '../protocol/mutf7.js';
import { flagsFromMaildirInfo, type ParsedFlags } from './flags.js';

export type MaildirLayout = 'maildir++' | 'fs';

export interface MaildirFolder {
  /** Mailbox name relative to the tree, "/"-separated; "" is the root (INBOX). */
  name: string;
  path: string;
}

export interface MaildirEntry {
  /** The unique part of the file name (before the info suffix); the sort and resume key. */
  key: string;
  /** Full path of the file. */
  file: string;
  subdir: 'cur' | 'new';
  /** Info letters after ":2," ("" when none). */
  info: string;
}

const INFO_SEPARATOR = /[:;!]2,/;

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function isMaildirFolder(path: string): Promise<boolean> {
  return (await isDir(join(path, 'cur'))) || (await isDir(join(path, 'new')));
}

/** "." inside a level: it is Maildir++'s separator, so it is written as the encoded U+002E. */
const DOT = '&AC4-';

/** Decodes one Maildir++ level: modified UTF-7 when it is valid, else the raw (UTF-8) text. */
export function decodeLevel(level: string): string {
  if (/[^\x20-\x7e]/.test(level)) return level;
  try {
    return level.split(DOT).map(decodeMailboxName).join('.');
  } catch {
    return level;
  }
}

/** Encodes one Maildir++ level: modified UTF-7, with "." (the separator) as "&AC4-". */
export function encodeLevel(level: string): string {
  return level.split('.').map(encodeMailboxName).join(DOT);
}

/** The folders of a tree, sorted by name ("" first); `auto` picks maildir++ when a ".Name" folder exists. */
export async function listMaildirFolders(
  root: string,
  layout: MaildirLayout | 'auto',
): Promise<{ layout: MaildirLayout; folders: MaildirFolder[] }> {
  const entries = await readdir(root, { withFileTypes: true });
  const folders: MaildirFolder[] = [];
  if (await isMaildirFolder(root)) folders.push({ name: '', path: root });
  let chosen: MaildirLayout = layout === 'auto' ? 'fs' : layout;
  if (layout !== 'fs') {
    const plusPlus: MaildirFolder[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || !e.name.startsWith('.') || e.name === '.' || e.name === '..') continue;
      const levels = e.name.slice(1).split('.');
      if (levels.some((l) => l === '')) continue;
      const path = join(root, e.name);
      if (!(await isMaildirFolder(path))) continue;
      plusPlus.push({ name: levels.map(decodeLevel).join('/'), path });
    }
    if (layout === 'maildir++' || plusPlus.length > 0) {
      chosen = 'maildir++';
      folders.push(...plusPlus);
    }
  }
  if (chosen === 'fs') {
    const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
      if (depth > 64) return;
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (!e.isDirectory() || e.name.startsWith('.') || ['cur', 'new', 'tmp'].includes(e.name)) continue;
        const path = join(dir, e.name);
        const name = prefix === '' ? e.name : `${prefix}/${e.name}`;
        if (await isMaildirFolder(path)) folders.push({ name, path });
        await walk(path, name, depth + 1);
      }
    };
    await walk(root, '', 0);
  }
  folders.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { layout: chosen, folders };
}

/** The messages of a folder (cur/ and new/), sorted by key. Hidden files are skipped. */
export async function listMaildirMessages(folderPath: string): Promise<MaildirEntry[]> {
  const out: MaildirEntry[] = [];
  for (const subdir of ['cur', 'new'] as const) {
    let names: string[];
    try {
      names = await readdir(join(folderPath, subdir));
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const m = INFO_SEPARATOR.exec(name);
      const key = m ? name.slice(0, m.index) : name;
      const info = m && subdir === 'cur' ? name.slice(m.index + 3) : '';
      out.push({ key, file: join(folderPath, subdir, name), subdir, info });
    }
  }
  out.sort((a, b) => compareKeys(a.key, b.key));
  return out;
}

/**
 * The order messages of a folder are imported in (and resumed by): names compared with their digit runs as
 * numbers, so "1700000000.V1U9.host" comes before "1700000000.V1U10.host" — delivery time first, as
 * Maildir names start with it. A total order: equal numbers with different leading zeros, then code units.
 */
export function compareKeys(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    if (x === y) continue;
    const dx = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57;
    const dy = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57;
    if (dx && dy) {
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      continue;
    }
    return x < y ? -1 : 1;
  }
  if (ra.length !== rb.length) return ra.length - rb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Dovecot's dovecot-keywords: lines "<n> <keyword>", n = 0..25 for the letters a..z. */
export async function readDovecotKeywords(folderPath: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(join(folderPath, 'dovecot-keywords'), 'utf8');
  } catch {
    return map;
  }
  for (const line of text.split('\n')) {
    const m = /^(\d{1,2}) (\S+)\s*$/.exec(line);
    if (!m) continue;
    const n = Number(m[1]);
    if (n < 26) map.set(String.fromCharCode(97 + n), m[2]!);
  }
  return map;
}

export function entryFlags(entry: MaildirEntry, keywords: Map<string, string>): ParsedFlags & { unknown: string[] } {
  return flagsFromMaildirInfo(entry.info, (letter) => keywords.get(letter));
}

/** The internal date of a message file: its mtime, or the seconds that lead its name. */
export function entryInternalDate(entry: MaildirEntry, mtimeMs: number, source: 'mtime' | 'name'): number {
  if (source === 'name') {
    const m = /^(\d{1,12})(?:\.|$)/.exec(entry.key);
    if (m) return Number(m[1]) * 1000;
  }
  return Math.trunc(mtimeMs);
}
