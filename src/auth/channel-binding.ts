// TLS channel bindings for SCRAM-SHA-256-PLUS (RFC 5802 §6, RFC 5056):
// - TLS 1.3: "tls-exporter" (RFC 9266 §2): 32 octets of keying material exported with the label
//   "EXPORTER-Channel-Binding" and an empty context;
// - TLS 1.2: "tls-unique" (RFC 5929 §3.1): the first Finished message of the most recent handshake, which is
//   the client's Finished after a full handshake and the server's after an abbreviated (resumed) one.
// RFC 9266 §3 says tls-unique is not defined for TLS 1.3, and tls-exporter over TLS 1.2 is safe only with the
// extended master secret (RFC 7627), which Node cannot tell us about: so each TLS version gets one type.
import type { TLSSocket } from 'node:tls';

export type ChannelBindingType = 'tls-exporter' | 'tls-unique';

/** The binding type used on this connection, or null when it has none (not TLS 1.2/1.3, no handshake yet). */
export function channelBindingType(sock: TLSSocket): ChannelBindingType | null {
  const version = sock.getProtocol();
  if (version === 'TLSv1.3') return 'tls-exporter';
  if (version === 'TLSv1.2') return 'tls-unique';
  return null;
}

/**
 * The channel binding data of `type` on this connection, as seen from `side`, or null when the connection
 * does not support that type. Both ends compute the same bytes.
 */
export function channelBindingData(sock: TLSSocket, type: string, side: 'client' | 'server'): Buffer | null {
  if (type !== channelBindingType(sock)) return null;
  if (type === 'tls-exporter') {
    try {
      return sock.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    } catch {
      return null;
    }
  }
  // tls-unique: whose Finished came first depends on resumption (RFC 5929 §3.1).
  const clientFinishedFirst = !sock.isSessionReused();
  const mine = sock.getFinished();
  const peer = sock.getPeerFinished();
  const first = (side === 'client') === clientFinishedFirst ? mine : peer;
  return first && first.length > 0 ? first : null;
}
