// Tests for src/config/tls.ts: self-signed generation into <data>/tls, reuse, configured files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../src/config/config.js';
import { loadTls } from '../../src/config/tls.js';

test('generates a self-signed certificate once, with a 0600 key, and reuses it', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'petrel-tls-'));
  try {
    const first = await loadTls({ dataDir, tlsCert: null, tlsKey: null, host: '127.0.0.1' });
    assert.equal(first.generated, true);
    assert.equal(first.selfSigned, true);
    assert.equal(first.certPath, join(dataDir, 'tls', 'cert.pem'));
    assert.equal(first.keyPath, join(dataDir, 'tls', 'key.pem'));
    assert.equal((await stat(first.keyPath)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, 'tls'))).mode & 0o077, 0);
    assert.equal(await readFile(first.certPath, 'utf8'), first.cert);
    const x509 = new X509Certificate(first.cert);
    assert.match(x509.subjectAltName ?? '', /DNS:localhost/);
    assert.match(x509.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.equal(x509.fingerprint256, first.fingerprint256);
    assert.ok(first.validTo.getTime() > Date.now() + 365 * 24 * 3600 * 1000);

    const second = await loadTls({ dataDir, tlsCert: null, tlsKey: null });
    assert.equal(second.generated, false);
    assert.equal(second.cert, first.cert);
    assert.equal(second.key, first.key);

    // The pair really works for a TLS handshake.
    const server = createServer({ cert: second.cert, key: second.key }, (s) => s.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca: second.cert, servername: 'localhost' }, () => {
        let data = '';
        socket.on('data', (d) => (data += d));
        socket.on('end', () => resolve(data));
      });
      socket.on('error', reject);
    });
    server.close();
    assert.equal(text, 'hello');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a damaged or expiring generated certificate is replaced', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'petrel-tls-'));
  try {
    const first = await loadTls({ dataDir, tlsCert: null, tlsKey: null });
    await writeFile(first.keyPath, 'garbage');
    const second = await loadTls({ dataDir, tlsCert: null, tlsKey: null });
    assert.equal(second.generated, true);
    assert.notEqual(second.cert, first.cert);
    // Ten years and a day later the certificate has expired and is renewed.
    const later = new Date(Date.now() + 3660 * 24 * 3600 * 1000);
    const third = await loadTls({ dataDir, tlsCert: null, tlsKey: null }, later);
    assert.equal(third.generated, true);
    assert.notEqual(third.cert, second.cert);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('configured certificate and key are loaded and checked', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'petrel-tls-'));
  const otherDir = await mkdtemp(join(tmpdir(), 'petrel-tls-'));
  try {
    const a = await loadTls({ dataDir, tlsCert: null, tlsKey: null });
    const b = await loadTls({ dataDir: otherDir, tlsCert: null, tlsKey: null });
    const loaded = await loadTls({ dataDir: '/nonexistent', tlsCert: a.certPath, tlsKey: a.keyPath });
    assert.equal(loaded.selfSigned, false);
    assert.equal(loaded.generated, false);
    assert.equal(loaded.cert, a.cert);
    assert.equal(loaded.fingerprint256, a.fingerprint256);

    await assert.rejects(loadTls({ dataDir, tlsCert: a.certPath, tlsKey: b.keyPath }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /does not belong to the certificate/);
      return true;
    });
    await assert.rejects(loadTls({ dataDir, tlsCert: join(dataDir, 'nope.pem'), tlsKey: a.keyPath }), /cannot read tls_cert .*ENOENT/);
    await assert.rejects(loadTls({ dataDir, tlsCert: a.keyPath, tlsKey: a.keyPath }), /is not a PEM certificate/);
    await assert.rejects(loadTls({ dataDir, tlsCert: a.certPath, tlsKey: a.certPath }), /is not an unencrypted PEM private key/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await rm(otherDir, { recursive: true, force: true });
  }
});
