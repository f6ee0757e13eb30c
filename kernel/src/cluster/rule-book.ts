import type { URL } from '../url/url';

/** Where a directory gets rule entries when no registry feeds it. */
export interface RuleSource {
  /** Calls `listener` with the entries of `iface` now and after every change; returns the function that stops it. */
  subscribe(iface: string, listener: (urls: URL[]) => void): () => void;
}

/**
 * The rule entries of an application without a registry (`registry: none`): `app.rules` writes
 * here and every reference of the process (direct `url:` and in-process ones) reads from here.
 * Nothing outlives the process. Scope: one per application; event loop only.
 */
export class InProcessRuleBook implements RuleSource {
  private readonly byIface = new Map<string, Map<string, URL>>();
  private readonly listeners = new Map<string, Set<(urls: URL[]) => void>>();

  put(url: URL): void {
    let entries = this.byIface.get(url.path);
    if (entries === undefined) this.byIface.set(url.path, (entries = new Map()));
    entries.set(url.toString(), url);
    this.changed(url.path);
  }

  /** Removes the entry; false when it was not there. */
  remove(url: URL): boolean {
    const entries = this.byIface.get(url.path);
    if (!entries?.delete(url.toString())) return false;
    if (entries.size === 0) this.byIface.delete(url.path);
    this.changed(url.path);
    return true;
  }

  /** The entries of `iface`, or of every interface. */
  list(iface?: string): URL[] {
    if (iface !== undefined) return [...(this.byIface.get(iface)?.values() ?? [])];
    return [...this.byIface.values()].flatMap((m) => [...m.values()]);
  }

  subscribe(iface: string, listener: (urls: URL[]) => void): () => void {
    let set = this.listeners.get(iface);
    if (set === undefined) this.listeners.set(iface, (set = new Set()));
    set.add(listener);
    listener(this.list(iface));
    return () => {
      set!.delete(listener);
      if (set!.size === 0 && this.listeners.get(iface) === set) this.listeners.delete(iface);
    };
  }

  private changed(iface: string): void {
    const set = this.listeners.get(iface);
    if (set === undefined) return;
    const urls = this.list(iface);
    for (const l of [...set]) l(urls);
  }
}
