/** `@plexus/serializer-json` — the JSON serializer (wire id 1). */
export { JsonSerializer } from './json-serializer';
