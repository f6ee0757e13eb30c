import { definePlugin } from '@plexus/kernel/spi';

// Placeholder until the etcd registry lands: declares no extension yet.
export default definePlugin({ name: '@plexus/registry-etcd', kernel: '^0.1.0', extensions: [] });
