// The registry of fuzz targets run by tools/fuzz.ts, the CI smoke test and the corpus replay test.
import type { FuzzTarget } from '../lib.js';
import { mimeTarget } from './mime.js';
import { lmtpTarget, pop3Target } from './pop3-lmtp.js';
import { protocolTargets } from './protocol.js';
import { serverArgsTarget } from './server-args.js';

export const TARGETS: readonly FuzzTarget[] = [...protocolTargets, serverArgsTarget, mimeTarget, pop3Target, lmtpTarget];

export function findTarget(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
