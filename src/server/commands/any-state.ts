// Commands valid in every state: CAPABILITY, NOOP, LOGOUT (RFC 9051 §6.1), ID (RFC 2971),
// and ENABLE (RFC 5161, authenticated state only).
import { Atom } from '../../protocol/types.js';
import type { ResponseValue } from '../../protocol/types.js';
import { bad } from '../errors.js';
import { capabilityList, ENABLEABLE } from '../capabilities.js';
import { defineCommand } from '../session.js';

const ALL_STATES = ['not-authenticated', 'authenticated', 'selected'] as const;

export const anyStateCommands = [
  defineCommand({
    name: 'CAPABILITY',
    states: [...ALL_STATES],
    parse: (r) => r.end(),
    async run(ctx) {
      const caps = capabilityList(ctx.session, ctx.server.settings);
      await ctx.untagged([new Atom('CAPABILITY'), ...caps.map((c) => new Atom(c))]);
    },
  }),
  defineCommand({
    name: 'NOOP',
    states: [...ALL_STATES],
    parse: (r) => r.end(),
    async run() {
      // Pending mailbox changes are announced by the connection after every command (RFC 9051 §6.1.2).
    },
  }),
  defineCommand({
    name: 'LOGOUT',
    states: [...ALL_STATES],
    parse: (r) => r.end(),
    async run(ctx) {
      ctx.setState({ kind: 'logout' });
    },
  }),
  defineCommand({
    name: 'ID',
    states: [...ALL_STATES],
    parse(r) {
      // id ::= "ID" SP id-params-list; id-params-list ::= "(" *(string SP nstring) ")" / nil (RFC 2971 §4)
      const a = r.next('ID parameters');
      r.end();
      if (a.type === 'atom' && a.value.toUpperCase() === 'NIL') return null;
      if (a.type !== 'list') throw bad('ID takes a parameter list or NIL');
      if (a.items.length % 2 !== 0 || a.items.length > 60) throw bad('ID parameter list must hold up to 30 field/value pairs');
      const out: Record<string, string | null> = {};
      for (let i = 0; i < a.items.length; i += 2) {
        const k = a.items[i]!;
        const v = a.items[i + 1]!;
        if (k.type !== 'string') throw bad('ID field names must be strings');
        const key = k.value.toString('utf8');
        if (key.length > 30) throw bad('ID field name too long');
        let value: string | null;
        if (v.type === 'atom' && v.value.toUpperCase() === 'NIL') value = null;
        else if (v.type === 'string') value = v.value.toString('utf8').slice(0, 1024);
        else throw bad('ID field values must be strings or NIL');
        out[key] = value;
      }
      return out;
    },
    async run(ctx, params) {
      ctx.session.clientId = params;
      const info: ResponseValue[] = ['name', 'Petrel', 'version', '0.1.0', 'vendor', 'Petrel', 'support-url', 'https://example.invalid/petrel'];
      await ctx.untagged([new Atom('ID'), info.slice(0, 6)]);
    },
  }),
  defineCommand({
    name: 'ENABLE',
    states: ['authenticated', 'selected'],
    parse(r) {
      const caps: string[] = [];
      while (!r.atEnd()) caps.push(r.atom('capability name').toUpperCase());
      if (caps.length === 0) throw bad('ENABLE needs at least one capability');
      return caps;
    },
    async run(ctx, caps) {
      const advertised = new Set(capabilityList(ctx.session, ctx.server.settings).map((c) => c.toUpperCase()));
      const newly: string[] = [];
      const hadCondstore = ctx.session.enabled.has('CONDSTORE');
      for (const cap of caps) {
        if (!ENABLEABLE.has(cap) || !advertised.has(cap)) continue;
        // "ENABLE QRESYNC CONDSTORE": CONDSTORE was turned on by QRESYNC in this same command, and the
        // ENABLED response lists both (RFC 5161 §3.1: what this command enabled).
        if (cap === 'CONDSTORE' && !hadCondstore && !newly.includes('CONDSTORE')) {
          ctx.session.enabled.add(cap);
          newly.push(cap);
          continue;
        }
        if (ctx.session.enabled.has(cap)) continue;
        ctx.session.enabled.add(cap);
        // RFC 7162 §3.2.3: enabling QRESYNC also enables CONDSTORE.
        if (cap === 'QRESYNC' && !ctx.session.enabled.has('CONDSTORE')) ctx.session.enabled.add('CONDSTORE');
        newly.push(cap === 'IMAP4REV2' ? 'IMAP4rev2' : cap);
      }
      // RFC 5161 §3.1: the ENABLED response lists only what this command newly enabled.
      await ctx.untagged([new Atom('ENABLED'), ...newly.map((c) => new Atom(c))]);
      // RFC 7162 §3.1: a first CONDSTORE enabling command with a mailbox selected reports its HIGHESTMODSEQ.
      const st = ctx.session.state;
      if (!hadCondstore && ctx.session.enabled.has('CONDSTORE') && st.kind === 'selected') {
        await ctx.untaggedStatus('OK', { name: 'HIGHESTMODSEQ', args: String(st.view.highestModSeq) }, 'Highest');
      }
    },
  }),
];
