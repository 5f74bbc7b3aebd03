// What SEARCH needs from the stored MIME index beyond src/mime/sections.ts: the leaf parts with their
// media type (RFC 9051 §6.4.4 lets servers search only text and message parts) and Content-Type
// parameters (RFC 2045 §5.1, the charset of a text part). Defined in src/mime/search-text.ts, which the
// store's full-text index shares; re-exported here for the server.
export { contentParam, leafParts, type LeafPart } from '../mime/search-text.js';
