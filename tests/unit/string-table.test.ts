import { StringTable } from '../../consumers/storage/string-table';

describe('StringTable', () => {
  it('returns the text of the bytes, met again or not, when values share slots', () => {
    const table = new StringTable(2); // two slots: nearly every value collides with another
    const values = ['persona-1', 'persona-2', 'gpt-4o', 'gpt-4o-mini', '', 'query', 'persona-1'];
    for (let round = 0; round < 3; round++) {
      for (const v of values) {
        const buf = Buffer.from(`xx${v}yy`, 'latin1');
        expect(table.get(buf, 2, 2 + v.length)).toBe(v);
      }
    }
  });
});
