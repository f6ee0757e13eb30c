/** @plexus/router — filled in by the router work. */
export {};
