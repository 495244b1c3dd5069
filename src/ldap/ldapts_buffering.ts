/**
 * Linear-time reassembly of large LDAP messages in ldapts.
 *
 * ldapts' `MessageParser.read` concatenates the partial message it holds with every chunk that
 * arrives (`Buffer.concat([buffer, data])`). A message that spans many socket chunks, such as a
 * group with 100,000 `member` values (several MiB), is therefore copied once per chunk: time
 * and garbage quadratic in its size. This wrapper reads the message's BER length as soon as the
 * header is in, keeps the following chunks in a list, and hands ldapts the whole message in one
 * concatenation. Everything else is ldapts' own code. Installed once, on import.
 * @module
 */

import { Buffer } from "node:buffer";
import { MessageParser } from "ldapts";

type Read = MessageParser["read"];
type Details = Parameters<Read>[1];

interface ParserState {
  buffer?: Buffer;
  rosterChunks?: Buffer[] | undefined;
  rosterLength?: number;
  rosterNeeded?: number;
}

/**
 * The total length (header included) of the BER element at the start of `bytes`, or undefined
 * while the header is incomplete or unusual (ldapts then handles it as before).
 */
export function berElementLength(bytes: Uint8Array): number | undefined {
  if (bytes.length < 2) return undefined;
  const first = bytes[1] ?? 0;
  if ((first & 0x80) === 0) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 4 || bytes.length < 2 + count) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (bytes[2 + i] ?? 0);
  return 2 + count + length;
}

const prototype: { read: Read; rosterLinearRead?: true } = MessageParser.prototype;

if (prototype.rosterLinearRead !== true) {
  const original = prototype.read;
  prototype.read = function (this: ParserState, data: Buffer, details: Details): void {
    if (this.rosterChunks !== undefined) {
      this.rosterChunks.push(data);
      this.rosterLength = (this.rosterLength ?? 0) + data.length;
      if (this.rosterLength < (this.rosterNeeded ?? 0)) return;
      const whole = Buffer.concat(this.rosterChunks, this.rosterLength);
      this.rosterChunks = undefined;
      original.call(this, whole, details);
      return;
    }
    const held = this.buffer;
    if (held !== undefined) {
      const needed = berElementLength(held);
      if (needed !== undefined && held.length + data.length < needed) {
        this.rosterChunks = [held, data];
        this.rosterLength = held.length + data.length;
        this.rosterNeeded = needed;
        delete this.buffer;
        return;
      }
    }
    original.call(this, data, details);
  };
  prototype.rosterLinearRead = true;
}
