// The `store` setting (issue 8, "Configuration"), in-process without a database: --store, PETREL_STORE and
// the config file's `store` reach the store factory with flags > environment > file; a URL that is not
// postgres:// is a usage error; a PostgreSQL store needs no data directory; blob_dir without a PostgreSQL
// store is ignored with a warning; `openStore()` picks the embedded store when no URL is set.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import type { PetrelConfig } from '../../src/config/config.js';
import { describeStore, openStore, redactUrl } from '../../src/store/open-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { memoryEnvironment, run, tempDir } from './helpers.js';

function capturing() {
  const seen: Array<{ dataDir: string; store: string | null; blobDir: string | null }> = [];
  const mem = memoryEnvironment();
  const inner = mem.overrides.openStore!;
  const overrides = {
    ...mem.overrides,
    openStore: async (dataDir: string, config?: PetrelConfig) => {
      seen.push({ dataDir, store: config?.store ?? null, blobDir: config?.blobDir ?? null });
      return inner(dataDir, config);
    },
  };
  return { seen, overrides };
}

it('--store, PETREL_STORE and store in the config file reach the store factory (flags > env > file)', async () => {
  const dir = await tempDir();
  try {
    const cfg = join(dir, 'p.toml');
    await writeFile(cfg, 'store = "postgres://file@db/petrel"\nblob_dir = "blobs"\n');
    const c = capturing();
    // No data directory is needed for a PostgreSQL store: ./nowhere does not exist.
    const nowhere = join(dir, 'nowhere');
    let r = await run(['user', 'list', '--data', nowhere, '--config', cfg], c.overrides);
    assert.equal(r.code, 0, r.stderr);
    r = await run(['user', 'list', '--data', nowhere, '--config', cfg], { ...c.overrides, env: { PETREL_STORE: 'postgresql://env@db/petrel' } });
    assert.equal(r.code, 0, r.stderr);
    r = await run(['user', 'list', '--data', nowhere, '--config', cfg, '--store', 'postgres://flag@db/petrel', '--blob-dir', '/srv/b'], {
      ...c.overrides,
      env: { PETREL_STORE: 'postgresql://env@db/petrel' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(c.seen, [
      { dataDir: nowhere, store: 'postgres://file@db/petrel', blobDir: join(dir, 'blobs') },
      { dataDir: nowhere, store: 'postgresql://env@db/petrel', blobDir: join(dir, 'blobs') },
      { dataDir: nowhere, store: 'postgres://flag@db/petrel', blobDir: '/srv/b' },
    ]);
    // Without a store the data directory must exist, as before.
    r = await run(['user', 'list', '--data', nowhere], c.overrides);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no data directory/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('a store that is not a postgres:// URL is a usage error; blob_dir alone is ignored with a warning', async () => {
  const c = capturing();
  const bad = await run(['user', 'list', '--store', '/var/lib/petrel'], c.overrides);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--store: "\/var\/lib\/petrel" is not a postgres:\/\/… URL/);
  const dir = await tempDir();
  try {
    const r = await run(['user', 'list', '--data', dir, '--blob-dir', '/srv/b'], c.overrides);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /blob_dir applies to a PostgreSQL store only/);
    assert.equal(c.seen.length, 1);
    assert.equal(c.seen[0]!.store, null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('openStore() opens the embedded store without a URL; URLs are shown without their password', async () => {
  const dir = await tempDir();
  try {
    const store = await openStore({ dataDir: dir, store: null });
    try {
      assert.ok(store instanceof SqliteStore);
    } finally {
      await store.close();
    }
    assert.equal(redactUrl('postgres://ann:s3cret@db:5432/petrel'), 'postgres://ann:***@db:5432/petrel');
    assert.equal(describeStore({ dataDir: dir, store: null }), dir);
    assert.doesNotMatch(describeStore({ dataDir: dir, store: 'postgres://ann:s3cret@db/petrel' }), /s3cret/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
