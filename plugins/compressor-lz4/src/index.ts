/** `@plexus/compressor-lz4` — the LZ4 compressor (wire id 2). */
export { Lz4Compressor, LZ4_DEFAULT_MAX_OUTPUT, LZ4_OPTIONS_SCHEMA, type Lz4CompressorOptions } from './lz4-compressor';
