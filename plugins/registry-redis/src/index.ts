import { definePlugin } from '@plexus/kernel/spi';

// Placeholder until the redis registry lands: declares no extension yet.
export default definePlugin({ name: '@plexus/registry-redis', kernel: '^0.1.0', extensions: [] });
