import { newEventId } from '../../src/events/event-id';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventId', () => {
  it('makes RFC 9562 version-7 UUIDs whose first 48 bits are the time in milliseconds', () => {
    const at = Date.UTC(2026, 11, 3, 12, 0, 0, 123);
    const id = newEventId(at);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('never repeats an id, even within one millisecond', () => {
    const at = Date.now();
    const ids = new Set(Array.from({ length: 100_000 }, () => newEventId(at)));
    expect(ids.size).toBe(100_000);
    for (const id of [...ids].slice(0, 1000)) expect(id).toMatch(UUID_V7);
  });

  it('sorts ids made later after ids made earlier, as Postgres orders uuids', () => {
    const earlier = Array.from({ length: 100 }, (_, i) => newEventId(1_800_000_000_000 + i));
    const later = Array.from({ length: 100 }, (_, i) => newEventId(1_800_000_000_100 + i));
    expect([...earlier, ...later].every((id, i, all) => i === 0 || all[i - 1] < id)).toBe(true);
  });
});
