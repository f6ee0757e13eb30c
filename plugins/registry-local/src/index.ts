import { definePlugin } from '@plexus/kernel/spi';

// Placeholder until the local registry lands: declares no extension yet.
export default definePlugin({ name: '@plexus/registry-local', kernel: '^0.1.0', extensions: [] });
