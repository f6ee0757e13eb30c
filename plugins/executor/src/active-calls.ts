/** The kernel's in-flight counter; kept as this module for the executors' imports. */
export { ActiveCalls } from '@plexus/kernel/spi';
