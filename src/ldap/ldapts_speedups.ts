/**
 * Two speed-ups of ldapts' message decoding, installed once, on import. Everything else is
 * ldapts' own code; `tests/ldap/ldapts_speedups_test.ts` checks that the results are the same.
 *
 * 1. **Reassembly.** `MessageParser.read` concatenates the partial message it holds with every
 *    chunk that arrives (`Buffer.concat([buffer, data])`). A message that spans many socket
 *    chunks, such as a group with 100,000 `member` values (several MiB), was therefore copied
 *    once per chunk: time and garbage quadratic in its size. Here the message's BER length is
 *    read as soon as its header is in, the following chunks are kept in a list, and ldapts gets
 *    the whole message in one concatenation.
 * 2. **Attribute values.** `Attribute.parse` made a `Buffer` per value, kept it, and decoded it
 *    again as text. Here text values are decoded straight from the message (ASCII directly,
 *    other UTF-8 through a strict decoder), and buffers are made only for binary attributes
 *    (`;binary`, `objectGUID`, `objectSid`: the attributes roster asks as buffers) and for values
 *    that are not valid UTF-8, exactly where ldapts would have returned buffers. Reads of large
 *    groups take a third less time.
 * @module
 */

import { Buffer } from "node:buffer";
import { Attribute, Ber, type BerReader, MessageParser, ProtocolOperation } from "ldapts";

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

/** Attributes whose values stay bytes: AD's binary identifiers (see `BUFFER_ATTRIBUTES`). */
const BINARY_ATTRIBUTES = new Set(["objectguid", "objectsid"]);

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function isAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((bytes[i] ?? 0) >= 0x80) return false;
  return true;
}

/**
 * Reads the OCTET STRING values of a SET up to `end` as text, or returns null (the reader's
 * offset is then wherever it stopped) when one of them is not valid UTF-8.
 */
function readTexts(reader: BerReader, end: number): string[] | null {
  const bytes = reader.buffer;
  const texts: string[] = [];
  while (reader.offset < end) {
    if (bytes[reader.offset] !== Ber.OctetString) {
      reader.readString(Ber.OctetString, true); // throws ldapts' own error for a wrong tag
      continue;
    }
    const start = reader.readLength(reader.offset + 1);
    if (start === null) break;
    const stop = start + reader.length;
    reader.offset = stop;
    if (stop === start) texts.push("");
    else if (isAscii(bytes, start, stop)) texts.push(bytes.toString("latin1", start, stop));
    else {
      try {
        texts.push(strictUtf8.decode(bytes.subarray(start, stop)));
      } catch {
        return null;
      }
    }
  }
  return texts;
}

const attributePrototype: { parse: Attribute["parse"]; rosterTextValues?: true } =
  Attribute.prototype;

if (attributePrototype.rosterTextValues !== true) {
  attributePrototype.parse = function (this: Attribute, reader: BerReader): void {
    reader.readSequence();
    this.type = reader.readString() ?? "";
    const set = ProtocolOperation.LBER_SET;
    if (reader.peek() !== set || reader.readSequence(set) === null) return;
    const end = reader.offset + reader.length;
    const first = reader.offset;
    const type = this.type.toLowerCase();
    if (!BINARY_ATTRIBUTES.has(type) && !type.endsWith(";binary")) {
      const texts = readTexts(reader, end);
      if (texts !== null) {
        this.values = texts;
        return;
      }
      reader.offset = first; // a value is not UTF-8: all of them as buffers, as ldapts does
    }
    const buffers = this.parsedBuffers;
    while (reader.offset < end) {
      buffers.push(reader.readString(Ber.OctetString, true) ?? Buffer.alloc(0));
    }
    this.values = buffers;
  };
  attributePrototype.rosterTextValues = true;
}
