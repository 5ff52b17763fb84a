import { RecentIds } from '../../../consumers/anomaly/recent-ids';

describe('RecentIds (the event ids a partition saw lately)', () => {
  it('recognises a second arrival of any of the most recent ids, and forgets ids beyond its bound', () => {
    const ids = new RecentIds(1000);
    for (let i = 0; i < 1000; i++) expect(ids.add(`event-${i}`)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(ids.add(`event-${i}`)).toBe(false);
    for (let i = 1000; i < 2000; i++) ids.add(`event-${i}`);
    expect(ids.size).toBeLessThanOrEqual(1000);
    expect(ids.add('event-1999')).toBe(false); // the newest half is always held
    expect(ids.add('event-1500')).toBe(false);
    expect(ids.add('event-0')).toBe(true); // beyond the bound: counted again
  });

  it('holds 100,000 uuid-like ids without a false match among 100,000 others', () => {
    const ids = new RecentIds(100_000);
    const id = (i: number) => `${i.toString(16).padStart(8, '0')}-1b2c-4d5e-8f90-${(i * 2654435761 >>> 0).toString(16).padStart(12, '0')}`;
    for (let i = 0; i < 100_000; i++) ids.add(id(i));
    let falseMatches = 0;
    for (let i = 100_000; i < 200_000; i++) if (!ids.add(id(i))) falseMatches++;
    expect(falseMatches).toBe(0);
  });

  it('survives serialization, oldest first, within a (possibly lowered) bound', () => {
    const ids = new RecentIds(100);
    for (let i = 0; i < 130; i++) ids.add(`e${i}`);
    const copy = RecentIds.restore(100, ids.serialize());
    expect(copy.size).toBe(ids.size);
    for (let i = 80; i < 130; i++) expect(copy.add(`e${i}`)).toBe(false);
    const smaller = RecentIds.restore(20, ids.serialize());
    expect(smaller.add('e129')).toBe(false);
    expect(smaller.add('e100')).toBe(true);
    expect(RecentIds.restore(100, undefined).size).toBe(0);
  });
});
