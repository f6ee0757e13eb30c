import { loopNow } from '../src/deadline/clock';

describe('loopNow', () => {
  it('is read once per synchronous stretch and renewed after the microtask checkpoint', async () => {
    const spy = jest.spyOn(Date, 'now');
    try {
      const first = loopNow();
      for (let i = 0; i < 100; i++) expect(loopNow()).toBe(first);
      expect(spy).toHaveBeenCalledTimes(1);
      await new Promise((r) => setTimeout(r, 5));
      const later = loopNow();
      expect(spy).toHaveBeenCalledTimes(2);
      expect(later).toBeGreaterThanOrEqual(first + 4);
    } finally {
      spy.mockRestore();
    }
  });

  it('stays within a few ms of Date.now()', () => {
    expect(Math.abs(loopNow() - Date.now())).toBeLessThan(50);
  });
});
