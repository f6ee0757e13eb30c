/** `@plexus/serializer-json` — the JSON serializer (wire id 1). */
export { JsonSerializer, JSON_OPTIONS_SCHEMA, type JsonSerializerOptions } from './json-serializer';
