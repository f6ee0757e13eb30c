/** `@plexus/compressor-gzip` — the gzip compressor (wire id 1). */
export { GzipCompressor, GZIP_BAD_LEVEL, GZIP_DEFAULT_MAX_OUTPUT, GZIP_OPTIONS_SCHEMA, type GzipCompressorOptions } from './gzip-compressor';
