import { inject, injectable } from 'tsyringe';
import type { PlexusConfig, ProtocolConfig } from '../config/types';
import type { ExtensionScope } from '../extension/extension-scope';
import type { Protocol } from '../spi/protocol';
import { TOKENS } from './tokens';

/** The protocols of an application: each one's config entry and its (one) instance. */
@injectable()
export class Protocols {
  constructor(
    @inject(TOKENS.config) private readonly config: PlexusConfig,
    @inject(TOKENS.scope) private readonly scope: ExtensionScope,
  ) {}

  /** The `protocols:` entry of `name`, or just the name when it is not configured (a consumer-only protocol). */
  configOf(name: string): ProtocolConfig {
    return this.config.protocols.find((p) => p.name === name) ?? { name };
  }

  get(name: string): Protocol {
    return this.scope.get<Protocol>('protocol', name, this.configOf(name));
  }
}
