#!/usr/bin/env python3
# SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) from Python's standard library against Petrel:
# imaplib (IMAP AUTHENTICATE, RFC 9051 §6.2.2) and poplib (POP3 AUTH, RFC 5034), SCRAM computed here with
# hashlib/hmac, channel binding "tls-unique" (RFC 5929) from ssl.SSLSocket.get_channel_binding on TLS 1.2.
# Python's ssl module has no tls-exporter (RFC 9266), so on TLS 1.3 it can only show the downgrade check.
# Usage: scram_session.py IMAP_PORT IMAPS_PORT POP3S_PORT USER PASSWORD; prints one JSON object.
import base64
import hashlib
import hmac
import imaplib
import json
import os
import poplib
import ssl
import sys

imap_port, imaps_port, pop3s_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
user, password = sys.argv[4], sys.argv[5]
HOST = '127.0.0.1'


def context(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


class Scram:
    """RFC 5802 §3 client: flag 'n', 'y' or 'p=<type>' with the binding data."""

    def __init__(self, user, password, flag='n', cbind_data=b''):
        self.password = password.encode()
        self.gs2 = flag + ',,'
        self.cbind_data = cbind_data
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.bare = 'n=%s,r=%s' % (user.replace('=', '=3D').replace(',', '=2C'), self.nonce)
        self.step = 0
        self.server_ok = None

    def __call__(self, challenge):
        # imaplib calls this with each decoded challenge and sends back what it returns.
        self.step += 1
        if self.step == 1:
            return (self.gs2 + self.bare).encode()
        if self.step == 2:
            server_first = challenge.decode()
            attrs = dict(kv.split('=', 1) for kv in server_first.split(','))
            assert attrs['r'].startswith(self.nonce)
            salted = hashlib.pbkdf2_hmac('sha256', self.password, base64.b64decode(attrs['s']), int(attrs['i']))
            client_key = hmac.new(salted, b'Client Key', 'sha256').digest()
            stored_key = hashlib.sha256(client_key).digest()
            c = base64.b64encode(self.gs2.encode() + self.cbind_data).decode()
            without_proof = 'c=%s,r=%s' % (c, attrs['r'])
            auth_message = ','.join([self.bare, server_first, without_proof]).encode()
            signature = hmac.new(stored_key, auth_message, 'sha256').digest()
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            server_key = hmac.new(salted, b'Server Key', 'sha256').digest()
            self.expected = 'v=' + base64.b64encode(hmac.new(server_key, auth_message, 'sha256').digest()).decode()
            return ('%s,p=%s' % (without_proof, base64.b64encode(proof).decode())).encode()
        self.server_ok = challenge.decode() == self.expected
        return b'' if self.server_ok else None  # None makes imaplib cancel with "*"


def imap_login(conn, mech, scram):
    try:
        typ, data = conn.authenticate(mech, scram)
        return [typ, data[0].decode(errors='replace'), scram.server_ok]
    except imaplib.IMAP4.error as e:
        return ['NO', str(e), scram.server_ok]


def tls_unique(conn_sock):
    return conn_sock.get_channel_binding('tls-unique')


out = {}

# IMAPS with TLS 1.2: -PLUS with tls-unique; wrong password; wrong binding; then the right one.
for case in ['wrong_password', 'wrong_binding', 'plus_ok']:
    m = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context(ssl.TLSVersion.TLSv1_2))
    out['tls12_version'] = m.sock.version()
    out['tls12_caps'] = list(m.capabilities)
    cb = tls_unique(m.sock)
    if case == 'wrong_binding':
        cb = bytes([cb[0] ^ 1]) + cb[1:]
    pw = 'not the password' if case == 'wrong_password' else password
    out['imap_' + case] = imap_login(m, 'SCRAM-SHA-256-PLUS', Scram(user, pw, 'p=tls-unique', cb))
    if case == 'plus_ok':
        out['imap_select'] = m.select('INBOX')[0]
        m.logout()
    else:
        m.shutdown()

# IMAPS with TLS 1.3: a client that can bind but claims the server cannot ("y") is a downgrade.
m = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context(ssl.TLSVersion.TLSv1_3))
out['tls13_version'] = m.sock.version()
out['imap_downgrade'] = imap_login(m, 'SCRAM-SHA-256', Scram(user, password, 'y'))
m.shutdown()

# Clear text on loopback: plain SCRAM-SHA-256 with "n".
m = imaplib.IMAP4(HOST, imap_port)
out['clear_caps'] = list(m.capabilities)
out['imap_clear'] = imap_login(m, 'SCRAM-SHA-256', Scram(user, password, 'n'))
m.logout()


# POP3S with TLS 1.2: AUTH SCRAM-SHA-256-PLUS by hand (poplib has no AUTH), initial response on the line.
def pop3_auth(p, mech, scram):
    resp = p._shortcmd('AUTH %s %s' % (mech, base64.b64encode(scram(b'')).decode()))
    while resp.startswith(b'+ '):
        answer = scram(base64.b64decode(resp[2:]))
        if answer is None:
            p._putcmd('*')
        else:
            p._putcmd(base64.b64encode(answer).decode())
        resp, _ = p._getline()
    return resp.decode(errors='replace')


for case in ['wrong_binding', 'plus_ok']:
    p = poplib.POP3_SSL(HOST, pop3s_port, context=context(ssl.TLSVersion.TLSv1_2))
    out['pop3_caps'] = {k: v for k, v in p.capa().items()}
    cb = tls_unique(p.sock)
    if case == 'wrong_binding':
        cb = bytes([cb[0] ^ 1]) + cb[1:]
    scram = Scram(user, password, 'p=tls-unique', cb)
    try:
        out['pop3_' + case] = [pop3_auth(p, 'SCRAM-SHA-256-PLUS', scram), scram.server_ok]
    except poplib.error_proto as e:
        out['pop3_' + case] = [str(e), scram.server_ok]
    if case == 'plus_ok':
        out['pop3_stat'] = list(p.stat())
    p.quit()

print(json.dumps(out))
