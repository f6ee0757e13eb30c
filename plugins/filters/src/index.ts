/** @plexus/filters — filled in by the governance work. */
export {};
