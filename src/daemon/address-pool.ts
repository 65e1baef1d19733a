/**
 * The PPTP server's pool of client addresses: first free wins, an address goes
 * back to the pool when its session ends. Addresses are 32-bit numbers.
 */
import { formatIpv4, parseIpv4 } from '../ppp/ipv4.js';

export class AddressPool {
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    private readonly first: number,
    private readonly last: number,
    /** Addresses never handed out (the server's own). */
    private readonly reserved: ReadonlySet<number> = new Set(),
  ) {
    this.next = first;
  }

  static fromRange(first: string, last: string, reserved: string[] = []): AddressPool {
    const a = parseIpv4(first);
    const b = parseIpv4(last);
    if (a === undefined || b === undefined || a > b)
      throw new RangeError(`bad pool ${first}-${last}`);
    return new AddressPool(a, b, new Set(reserved.map((r) => parseIpv4(r) ?? -1)));
  }

  get size(): number {
    return (
      this.last -
      this.first +
      1 -
      [...this.reserved].filter((r) => r >= this.first && r <= this.last).length
    );
  }

  get inUse(): number {
    return this.used.size;
  }

  /** A free address, or undefined when the pool is exhausted. */
  allocate(): string | undefined {
    const span = this.last - this.first + 1;
    // Round-robin from the last allocation, so a just-freed address is not reused at once.
    for (let i = 0; i < span; i++) {
      const candidate = this.first + ((this.next - this.first + i) % span);
      if (this.used.has(candidate) || this.reserved.has(candidate)) continue;
      this.used.add(candidate);
      this.next = candidate + 1 > this.last ? this.first : candidate + 1;
      return formatIpv4(candidate);
    }
    return undefined;
  }

  /** Take a specific address (from the peer's secret or RADIUS); false if taken. */
  claim(address: string): boolean {
    const n = parseIpv4(address);
    if (n === undefined || this.used.has(n)) return false;
    this.used.add(n);
    return true;
  }

  release(address: string): void {
    const n = parseIpv4(address);
    if (n !== undefined) this.used.delete(n);
  }
}
