import { definePlugin } from '@plexus/kernel/spi';

// Placeholder until the nacos registry lands: declares no extension yet.
export default definePlugin({ name: '@plexus/registry-nacos', kernel: '^0.1.0', extensions: [] });
