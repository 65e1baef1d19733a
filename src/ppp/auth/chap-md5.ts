/** CHAP with MD5 (RFC 1994 §2.2): Response = MD5(Identifier || secret || Challenge). */
import { createHash } from 'node:crypto';

export function chapMd5Response(
  identifier: number,
  secret: Buffer | string,
  challenge: Buffer,
): Buffer {
  const hash = createHash('md5');
  hash.update(Buffer.from([identifier & 0xff]));
  hash.update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
  hash.update(challenge);
  return hash.digest();
}
