import { Plexus, definePlugin, type Filter, type Invocation, type Invoker } from '../src';

/** Filters are activated by side and order, and a `filter:` list adds, removes and drops defaults. */
const seen: string[] = [];

function tracing(name: string): Filter {
  return {
    invoke(next: Invoker, inv: Invocation) {
      seen.push(`${name}>${inv.method}`);
      inv.attachments[`via-${name}`] = '1';
      return next.invoke(inv);
    },
  };
}

const filters = definePlugin({
  name: 'test-filters',
  extensions: [
    { point: 'filter', name: 'outer', activate: { side: ['consumer'], order: -10 }, create: () => tracing('outer') },
    { point: 'filter', name: 'stamp', activate: { side: ['consumer'], order: 10 }, create: () => tracing('stamp') },
    { point: 'filter', name: 'audit', activate: { side: ['provider'] }, create: () => tracing('audit') },
    { point: 'filter', name: 'extra', create: () => tracing('extra') },
  ],
});

async function run(consumerFilter?: string[], providerFilter?: string[]) {
  seen.length = 0;
  const app = Plexus.create({
    application: { name: 'filters' },
    protocol: { name: 'injvm' },
    references: { echo: { interface: 'f.Echo', filter: consumerFilter } },
  });
  app.use(filters);
  app.provide({ interface: 'f.Echo', filter: providerFilter }, {
    keys() {
      return Object.keys(Plexus.context()!.attachments).sort();
    },
  });
  await app.start();
  try {
    const keys = await app.reference<{ keys(): string[] }>('echo').keys();
    return { keys, order: [...seen] };
  } finally {
    await app.stop();
  }
}

describe('filter activation', () => {
  it('runs activated filters by side, in order', async () => {
    const { keys, order } = await run();
    expect(order).toEqual(['outer>keys', 'stamp>keys', 'audit>keys']);
    expect(keys).toEqual(['via-audit', 'via-outer', 'via-stamp']);
  });

  it('adds listed filters after the defaults and removes -name', async () => {
    const { order } = await run(['-outer', 'extra']);
    expect(order).toEqual(['stamp>keys', 'extra>keys', 'audit>keys']);
  });

  it('drops every default with -default', async () => {
    const { order } = await run(['-default'], ['-default', 'extra']);
    expect(order).toEqual(['extra>keys']);
  });

  it('names a missing filter with the ones that exist', async () => {
    await expect(run(['extar'])).rejects.toThrow(/No filter named "extar".*Did you mean "extra"/s);
  });
});
