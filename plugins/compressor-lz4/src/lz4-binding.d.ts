/** The part of `lz4` 0.6 (no bundled typings) this plugin uses: the native block API. */
declare module 'lz4' {
  /** Worst-case compressed size of `inputLength` bytes. */
  export function encodeBound(inputLength: number): number;
  /**
   * Compresses all of `input` into `output` from `startIdx` to `endIdx`; answers the compressed
   * length, 0 when it does not fit.
   */
  export function encodeBlock(input: Uint8Array, output: Uint8Array, startIdx?: number, endIdx?: number): number;
  /**
   * Decompresses `input` from `startIdx` into all of `output`; answers the decompressed length,
   * negative when the input is malformed or would overflow `output`.
   */
  export function decodeBlock(input: Uint8Array, output: Uint8Array, startIdx?: number, endIdx?: number): number;
}
