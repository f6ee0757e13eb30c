/**
 * `@plexus/kernel` — the application API. Plugin authors import `@plexus/kernel/spi`.
 */
import 'reflect-metadata';
export * from './spi/index';
export type * from './config/types';
