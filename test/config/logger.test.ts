// Tests for src/config/logger.ts: level filtering, text and JSON formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, formatRecord } from '../../src/config/logger.js';

function capture(): { lines: string[]; write(text: string): void } {
  const lines: string[] = [];
  return { lines, write: (text: string) => void lines.push(text) };
}

test('text format: one readable line per record, level filtered', () => {
  const sink = capture();
  const log = createLogger({ logLevel: 'info', logFormat: 'text' }, sink);
  log.debug('hidden');
  log.info({ imap: '127.0.0.1:1143', users: 2 }, 'listening');
  log.warn('careful now');
  assert.equal(sink.lines.length, 2);
  assert.match(sink.lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  listening imap=127\.0\.0\.1:1143 users=2\n$/);
  assert.match(sink.lines[1]!, /^\S+ WARN  careful now\n$/);
});

test('text format: errors show their message, and the stack at error level', () => {
  const sink = capture();
  const log = createLogger({ logLevel: 'debug', logFormat: 'text' }, sink);
  const err = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
  log.error({ err }, 'append failed');
  assert.match(sink.lines[0]!, /ERROR append failed err="disk full" code=ENOSPC\n {4}at /);
});

test('json format: pino JSON lines', () => {
  const sink = capture();
  const log = createLogger({ logLevel: 'warn', logFormat: 'json' }, sink);
  log.info('hidden');
  log.error({ user: 'ann' }, 'oops');
  assert.equal(sink.lines.length, 1);
  const record = JSON.parse(sink.lines[0]!) as Record<string, unknown>;
  assert.equal(record.level, 50);
  assert.equal(record.msg, 'oops');
  assert.equal(record.user, 'ann');
});

test('silent logs nothing', () => {
  const sink = capture();
  const log = createLogger({ logLevel: 'silent', logFormat: 'text' }, sink);
  log.error('nothing');
  assert.equal(sink.lines.length, 0);
});

test('formatRecord quotes values with spaces and passes through non-JSON', () => {
  assert.equal(formatRecord('{"level":30,"time":0,"msg":"m","a":"x y","b":null}\n'), '1970-01-01T00:00:00.000Z INFO  m a="x y" b=null\n');
  assert.equal(formatRecord('plain text'), 'plain text\n');
});
