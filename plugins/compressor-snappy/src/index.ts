/** `@plexus/compressor-snappy` — the Snappy compressor (wire id 3). */
export { SnappyCompressor, SNAPPY_DEFAULT_MAX_OUTPUT, SNAPPY_OPTIONS_SCHEMA, type SnappyCompressorOptions } from './snappy-compressor';
