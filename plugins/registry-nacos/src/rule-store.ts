import { createHash } from 'node:crypto';
import type { RegistryCategory, URL } from '@plexus/kernel/spi';
import { NacosErrors } from './nacos-errors';
import { quote, type NacosHttp } from './nacos-http';
import type { ResolvedNacosOptions } from './nacos-options';
import { isValidDataId, ruleDataId, ruleLines } from './nacos-naming';

/** Read-modify-write rounds before a rule write gives up with `PLEXUS_ERR_NACOS_CONFLICT`. */
const CAS_ATTEMPTS = 5;

const CONFIGS = '/v1/cs/configs';

/** A rule config as read: its content, or absent. */
export interface RuleConfig {
  readonly content: string;
  readonly exists: boolean;
}

/**
 * `routers` and `configurators` entries: rules written by operators, which must outlive the
 * process that wrote them. Nacos instances are the wrong home for them (an instance is one
 * ip:port per service in Nacos 2.x, and rules usually share `0.0.0.0:0`), so each
 * (category, interface) is one config in the config API, data id `{category}:{interface}`, in the
 * registry's group and namespace, holding one URL per line. Writes are compare-and-set on the
 * content's MD5 (Nacos' `casMd5`), so two operators adding rules at once do not lose one.
 */
export class RuleStore {
  constructor(
    private readonly http: NacosHttp,
    private readonly options: ResolvedNacosOptions,
  ) {}

  private dataId(iface: string, category: RegistryCategory): string {
    const dataId = ruleDataId(iface, category);
    if (!isValidDataId(dataId)) throw NacosErrors.NAME('rule config', dataId, 'Nacos data ids allow letters, digits and . : _ - only');
    return dataId;
  }

  private tenant(): string | undefined {
    return this.options.namespace === '' ? undefined : this.options.namespace;
  }

  /** Reads the rule config of `iface`/`category`; a 404 is an absent config. */
  async read(iface: string, category: RegistryCategory, what: string): Promise<RuleConfig> {
    const dataId = ruleDataId(iface, category);
    // A data id Nacos would refuse cannot hold anything: nothing to read.
    if (!isValidDataId(dataId)) return { content: '', exists: false };
    const answer = await this.http.request(what, 'GET', CONFIGS, { dataId, group: this.options.group, tenant: this.tenant() });
    if (answer.status === 404) return { content: '', exists: false };
    if (answer.status !== 200) throw NacosErrors.REQUEST(what, answer.server, answer.status, quote(answer.body));
    return { content: answer.body, exists: true };
  }

  /** Adds `url`'s line to its config unless it is there already. */
  async add(url: URL, category: RegistryCategory): Promise<void> {
    const line = url.toString();
    await this.update(url.path, category, 'register', (lines) => (lines.includes(line) ? undefined : [...lines, line]));
  }

  /** Removes `url`'s line from its config; deletes the config when no rule is left. */
  async remove(url: URL, category: RegistryCategory): Promise<void> {
    const line = url.toString();
    await this.update(url.path, category, 'unregister', (lines) => (lines.includes(line) ? lines.filter((l) => l !== line) : undefined));
  }

  /** Applies `change` to the lines (undefined: nothing to do) and writes back if nobody wrote meanwhile. */
  private async update(iface: string, category: RegistryCategory, what: string, change: (lines: string[]) => string[] | undefined): Promise<void> {
    const dataId = this.dataId(iface, category);
    for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
      const current = await this.read(iface, category, what);
      const next = change(ruleLines(current.content));
      if (next === undefined) return;
      const base = { dataId, group: this.options.group, tenant: this.tenant() };
      if (next.length === 0) {
        // Nacos refuses empty content; deleting is not compare-and-set, the window is one round trip.
        const answer = await this.http.request(what, 'DELETE', CONFIGS, base);
        if (answer.status !== 200) throw NacosErrors.REQUEST(what, answer.server, answer.status, quote(answer.body));
        return;
      }
      // With no config yet there is nothing to compare against: Nacos has no create-if-absent.
      const headers: Record<string, string> = current.exists ? { casMd5: createHash('md5').update(current.content, 'utf8').digest('hex') } : {};
      const answer = await this.http.request(what, 'POST', CONFIGS, { ...base, content: `${next.join('\n')}\n`, type: 'text' }, headers);
      if (answer.status === 200 && answer.body.trim() === 'true') return;
      // A failed compare-and-set answers `false`, 409, or 500 naming the md5 depending on the 2.x release.
      const conflict = answer.body.trim() === 'false' || answer.status === 409 || (answer.status === 500 && /cas|md5/i.test(answer.body));
      if (!conflict) throw NacosErrors.REQUEST(what, answer.server, answer.status, quote(answer.body));
    }
    throw NacosErrors.CONFLICT(dataId, CAS_ATTEMPTS);
  }
}
