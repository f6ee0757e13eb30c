import { compressorContract } from '../src/testing';
import { IdentityCompressor } from '../src/protocol/identity-compressor';

// A pass-through cannot tell garbage from data, so that one check is off.
compressorContract('identity', () => new IdentityCompressor(), { rejectsGarbage: false });
