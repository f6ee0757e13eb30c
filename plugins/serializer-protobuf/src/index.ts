/** Filled in by the issue work. */
export {};
