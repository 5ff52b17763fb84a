import crypto from 'node:crypto';
import { md5Int64Text, MD5_PADDING_ROOM } from '../../consumers/storage/md5-prefix';
import { rng } from './anomaly/synthetic';

const expected = (message: Buffer) => crypto.createHash('md5').update(message).digest().readBigInt64BE(0).toString();

function ours(message: Buffer): string {
  const room = Buffer.alloc(message.length + MD5_PADDING_ROOM, 0xee);
  message.copy(room);
  return md5Int64Text(room, message.length);
}

describe('md5Int64Text', () => {
  it('agrees with crypto md5 on every length across block boundaries (0-300 bytes)', () => {
    const random = rng(7);
    for (let length = 0; length <= 300; length++) {
      const message = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
      expect(ours(message)).toBe(expected(message));
    }
  });

  it('agrees on fingerprint-shaped input, non-ASCII bytes included', () => {
    for (const text of ['openai_api\u001f123456789\u001fpersona-1\u001fpost-1', 'kubernetes\u001f0\u001fcafé\u001f', 'vector_db\u001f18446744073709551615\u001f🙂\u001f' + 'x'.repeat(255)]) {
      expect(ours(Buffer.from(text))).toBe(expected(Buffer.from(text)));
    }
  });
});
