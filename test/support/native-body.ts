// Hand-made ClickHouse Native bodies for the transcoder's unit tests.

/** A VarUInt as Native writes lengths and counts: 7 bits a byte, low bits first. */
export function varUInt(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
