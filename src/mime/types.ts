// The stored MIME part tree (decision 4: parse once at ingest). Owned by src/mime/; the store
// keeps it as JSON and nobody else looks inside. See src/mime/indexer.ts.

/** JSON-serialisable index of one message. The shape is defined by src/mime. */
export interface MimeIndex {
  /** Format version, so stored indexes can be upgraded. */
  v: number;
  [key: string]: unknown;
}
