// The process logger: pino, writing to stderr, either as JSON lines (log_format = "json", for log
// collectors) or as one human-readable line per record (log_format = "text", the default):
//   2025-01-02T03:04:05.678Z INFO  listening imap=127.0.0.1:1143 imaps=127.0.0.1:1993
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config.js';

export type { Logger } from 'pino';

export interface LoggerSettings {
  logLevel: LogLevel;
  logFormat: LogFormat;
}

export interface LineSink {
  write(text: string): unknown;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Creates the logger. `sink` defaults to process.stderr (tests pass their own). */
export function createLogger(settings: LoggerSettings, sink: LineSink = process.stderr): Logger {
  const options = { level: settings.logLevel, base: null };
  if (settings.logFormat === 'json') return pino(options, sink as DestinationStream);
  return pino(options, textStream(sink));
}

function textStream(sink: LineSink): DestinationStream {
  return {
    write(line: string): void {
      sink.write(formatRecord(line));
    },
  };
}

/** Turns one pino JSON line into a readable line (exported for tests). */
export function formatRecord(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : line + '\n';
  }
  const { level, time, msg, err, ...rest } = record;
  const levelName = (typeof level === 'number' && LEVEL_NAMES[level]) || String(level).toUpperCase();
  const when = typeof time === 'number' ? new Date(time).toISOString() : '';
  let out = `${when} ${levelName.padEnd(5)} ${typeof msg === 'string' ? msg : ''}`;
  for (const [key, value] of Object.entries(rest)) out += ` ${key}=${formatValue(value)}`;
  let stack = '';
  if (err !== undefined) {
    if (typeof err === 'object' && err !== null) {
      const e = err as { message?: unknown; stack?: unknown; code?: unknown };
      out += ` err=${formatValue(e.message ?? '')}`;
      if (e.code !== undefined) out += ` code=${formatValue(e.code)}`;
      if (typeof level === 'number' && level >= 50 && typeof e.stack === 'string') {
        stack = e.stack.split('\n').slice(1).map((l) => `    ${l.trim()}\n`).join('');
      }
    } else {
      out += ` err=${formatValue(err)}`;
    }
  }
  return `${out.trimEnd()}\n${stack}`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value);
}
