import { definePlugin } from '@plexus/kernel/spi';

// Placeholder until the zookeeper registry lands: declares no extension yet.
export default definePlugin({ name: '@plexus/registry-zookeeper', kernel: '^0.1.0', extensions: [] });
