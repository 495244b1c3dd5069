/**
 * roster's own decoding of LDAP messages (RFC 4511 §4.1.1) as they arrive on the socket: where
 * one message ends ({@link messageLength}), and a SearchResultEntry (§4.5.2) straight from the
 * received bytes into an {@link LdapEntry} ({@link entryFrame}, {@link decodeEntry}). Nothing here
 * knows ldapts; `ldapts.ts` wires it into ldapts' message parser and hands every message this
 * module does not decode (responses, references, controls, anything unusual or malformed) to
 * ldapts, which decodes it, or reports it, as it always did.
 *
 * The decoder gives exactly what ldapts' own decoding gives (`tests/providers/ldap/ldapts_test.ts`
 * compares the two on crafted messages and on a real slapd): the DN as UTF-8 text (with U+FFFD
 * for bytes that are not UTF-8, as ldapts reads it), lower-cased attribute descriptions, values of
 * one description (in any case) merged in the order sent, text values as strings, and copied
 * bytes only for binary attributes (`;binary`, `objectGUID`, `objectSid`) and for every value of
 * an attribute with a value that is not UTF-8 (ldapts gives buffers then). Unlike ldapts, an
 * attribute named `dn` does not replace the entry's DN (it is left out), and two attributes of
 * the same name are merged rather than the second replacing the first.
 *
 * The functions are hand-written loops over the bytes with module-level cursors instead of
 * result objects: they run once per entry and per value (100,000s per read), and every object
 * they do not allocate is garbage the collector does not sweep.
 * @module
 */

import type { Buffer } from "node:buffer";
import type { LdapEntry } from "../../ldap/entry.ts";

/** Attributes whose values stay bytes: AD's binary identifiers (as ldapts' explicit buffers). */
const BINARY_ATTRIBUTES = new Set(["objectguid", "objectsid"]);

const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const SEQUENCE = 0x30;
const SET = 0x31;
/** RFC 4511 `[APPLICATION 4]` SearchResultEntry. */
const SEARCH_RESULT_ENTRY = 0x64;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** {@link messageLength}: the header (tag and length) has not fully arrived yet. */
export const HEADER_INCOMPLETE = -1;
/** {@link messageLength}: a header roster does not frame itself (ldapts then reads it). */
export const HEADER_UNUSUAL = -2;

/**
 * The total length (header included) of the LDAPMessage starting at `at`:
 * {@link HEADER_INCOMPLETE} while its header has not fully arrived, {@link HEADER_UNUSUAL} for a
 * tag other than SEQUENCE, an indefinite length or a length of more than 4 bytes (which ldapts
 * reads, and reports).
 */
export function messageLength(bytes: Uint8Array, at: number): number {
  if (at < bytes.length && bytes[at] !== SEQUENCE) return HEADER_UNUSUAL;
  return elementLength(bytes, at);
}

/**
 * The total length (header included) of the BER element at the start of `bytes`, whatever its
 * tag, or undefined while the header is incomplete or unusual.
 */
export function berElementLength(bytes: Uint8Array): number | undefined {
  const length = elementLength(bytes, 0);
  return length < 0 ? undefined : length;
}

function elementLength(bytes: Uint8Array, at: number): number {
  const available = bytes.length - at;
  if (available < 2) return HEADER_INCOMPLETE;
  const first = bytes[at + 1] ?? 0;
  if (first < 0x80) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 4) return HEADER_UNUSUAL;
  if (available < 2 + count) return HEADER_INCOMPLETE;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (bytes[at + 2 + i] ?? 0);
  return 2 + count + length;
}

/** Where the content of the element whose length was read last starts. */
let contentStart = 0;

/**
 * Reads a BER length at `at` (the byte after the tag). Returns the content length and sets
 * {@link contentStart}, or returns -1 when the length is indefinite, longer than 4 bytes or
 * runs past `limit`.
 */
function readLength(bytes: Uint8Array, at: number, limit: number): number {
  if (at >= limit) return -1;
  const first = bytes[at] ?? 0;
  let length = first;
  let start = at + 1;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4 || at + 1 + count > limit) return -1;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[at + 1 + i] ?? 0);
    start = at + 1 + count;
  }
  if (start + length > limit) return -1;
  contentStart = start;
  return length;
}

/** The parts of one SearchResultEntry message, as offsets into its bytes (see {@link entryFrame}). */
export interface EntryFrame {
  messageId: number;
  dnStart: number;
  dnEnd: number;
  /** The content of the PartialAttributeList. */
  listStart: number;
  listEnd: number;
}

/**
 * Reads the frame of the LDAPMessage from `start` to `end` (as {@link messageLength} gave it)
 * into `frame` when it is a SearchResultEntry in the usual form: a positive message ID of at
 * most 4 bytes, the entry's DN and attribute list filling the operation, no controls. False for
 * any other message and for anything unusual, which ldapts then decodes (or reports) itself.
 */
export function entryFrame(bytes: Uint8Array, range: [number, number], frame: EntryFrame): boolean {
  const [start, end] = range;
  const messageContent = readLength(bytes, start + 1, end);
  if (messageContent < 0 || contentStart + messageContent !== end) return false;
  let at = contentStart;
  if (bytes[at] !== INTEGER) return false;
  const idLength = readLength(bytes, at + 1, end);
  if (idLength < 1 || idLength > 4 || (bytes[contentStart] ?? 0) >= 0x80) return false;
  let messageId = 0;
  for (let i = 0; i < idLength; i++) messageId = messageId * 256 + (bytes[contentStart + i] ?? 0);
  at = contentStart + idLength;
  if (bytes[at] !== SEARCH_RESULT_ENTRY) return false;
  const opLength = readLength(bytes, at + 1, end);
  // Anything after the operation (controls) is left to ldapts.
  if (opLength < 0 || contentStart + opLength !== end) return false;
  at = contentStart;
  if (bytes[at] !== OCTET_STRING) return false;
  const dnLength = readLength(bytes, at + 1, end);
  if (dnLength < 0) return false;
  const dnStart = contentStart;
  at = dnStart + dnLength;
  if (bytes[at] !== SEQUENCE) return false;
  const listLength = readLength(bytes, at + 1, end);
  if (listLength < 0 || contentStart + listLength !== end) return false;
  frame.messageId = messageId;
  frame.dnStart = dnStart;
  frame.dnEnd = dnStart + dnLength;
  frame.listStart = contentStart;
  frame.listEnd = end;
  return true;
}

/**
 * Decodes the SearchResultEntry whose frame {@link entryFrame} read: the DN and its attributes
 * ({@link decodeAttributes}), with every attribute of `requested` (lower-cased) the server did not
 * send as an empty list, as ldapts does. Undefined when the attribute list is malformed.
 */
export function decodeEntry(
  bytes: Buffer,
  frame: EntryFrame,
  requested: readonly string[],
): LdapEntry | undefined {
  const attributes = decodeAttributes(bytes, { start: frame.listStart, end: frame.listEnd });
  if (attributes === undefined) return undefined;
  for (const name of requested) if (!attributes.has(name)) attributes.set(name, []);
  return { dn: text(bytes, frame.dnStart, frame.dnEnd), attributes };
}

/** Bytes as text, as ldapts reads a DN or description: UTF-8 with U+FFFD replacing bad bytes. */
function text(bytes: Buffer, start: number, end: number): string {
  return bytes.toString("utf8", start, end);
}

/** An attribute description as sent, with what the decoder needs to know about it. */
interface TypeName {
  /** The description's bytes, to recognise it in the next entry without decoding it. */
  bytes: Uint8Array;
  /** Lower-cased, the key in {@link LdapEntry.attributes}. */
  name: string;
  /** Values stay bytes (`;binary`, `objectGUID`, `objectSid`). */
  binary: boolean;
  /** Left out: `dn`, `__proto__` (ldapts' entry object cannot hold them as attributes). */
  skip: boolean;
  /** The short ASCII values of the last entry, by position (see {@link readValues}). */
  recent: string[];
}

/** The descriptions of the last entry, by position: entries of one search repeat them. */
const lastTypes: TypeName[] = [];
const typesByText = new Map<string, TypeName>();

function typeAt(bytes: Buffer, start: number, end: number, index: number): TypeName {
  const predicted = lastTypes[index];
  if (predicted !== undefined && predicted.bytes.length === end - start) {
    const known = predicted.bytes;
    let same = true;
    for (let i = 0; i < known.length; i++) {
      if (known[i] !== bytes[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return predicted;
  }
  // As ldapts reads it: UTF-8 with replacement characters.
  const description = bytes.toString("utf8", start, end);
  let type = typesByText.get(description);
  if (type === undefined) {
    const name = description.toLowerCase();
    type = {
      bytes: new Uint8Array(bytes.subarray(start, end)),
      name,
      binary: BINARY_ATTRIBUTES.has(name) || name.endsWith(";binary"),
      skip: description === "dn" || description === "__proto__",
      recent: [],
    };
    if (typesByText.size >= 1000) typesByText.clear();
    typesByText.set(description, type);
  }
  lastTypes[index] = type;
  return type;
}

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((bytes[i] ?? 0) >= 0x80) return false;
  return true;
}

const NOT_UTF8 = Symbol("not UTF-8");

/** Values up to this many bytes are compared with the last entry's (see {@link readValues}). */
const RECENT_LENGTH = 32;
/** Values at positions up to this are compared with the last entry's. */
const RECENT_VALUES = 8;

/** Whether the ASCII string `known` is the bytes from `from` on (as many as it has chars). */
function sameText(known: string, bytes: Uint8Array, from: number): boolean {
  for (let i = 0; i < known.length; i++) {
    if (known.charCodeAt(i) !== bytes[from + i]) return false;
  }
  return true;
}

/**
 * The OCTET STRING values of a SET (content from `start` to `end`) of an attribute of `type`:
 * as text, or as copied bytes when `asBytes`. Undefined when the SET is malformed;
 * {@link NOT_UTF8} when a value is not UTF-8 text.
 *
 * Two shapes save memory and time on every entry: an attribute with one value (most) gets a
 * one-element array literal, a third of the memory of an empty array grown by `push`; and a
 * short ASCII value that is the same as the last entry's at the same position (`objectClass`
 * values, flags) is the same string, compared with the bytes rather than decoded again.
 */
function readValues(
  bytes: Buffer,
  start: number,
  end: number,
  type: TypeName,
  asBytes: boolean,
): (string | Uint8Array)[] | undefined | typeof NOT_UTF8 {
  const recent = type.recent;
  let first: string | Uint8Array | undefined;
  let values: (string | Uint8Array)[] | undefined;
  let index = 0;
  let at = start;
  while (at < end) {
    if (bytes[at] !== OCTET_STRING) return undefined;
    const length = readLength(bytes, at + 1, end);
    if (length < 0) return undefined;
    const from = contentStart;
    at = from + length;
    let value: string | Uint8Array;
    const known = !asBytes && index < RECENT_VALUES ? recent[index] : undefined;
    if (asBytes) {
      value = new Uint8Array(bytes.buffer, bytes.byteOffset + from, length).slice();
    } else if (length === 0) {
      value = "";
    } else if (known !== undefined && known.length === length && sameText(known, bytes, from)) {
      value = known;
    } else if (isAscii(bytes, from, at)) {
      // ASCII reads the same as UTF-8, which Deno's Buffer decodes without a name lookup.
      value = bytes.toString("utf8", from, at);
      if (length <= RECENT_LENGTH && index < RECENT_VALUES) recent[index] = value;
    } else {
      try {
        value = strictUtf8.decode(bytes.subarray(from, at));
      } catch {
        return NOT_UTF8;
      }
    }
    index++;
    if (first === undefined) first = value;
    else if (values === undefined) values = [first, value];
    else values.push(value);
  }
  return values ?? (first === undefined ? [] : [first]);
}

/**
 * Decodes the PartialAttributeList of a SearchResultEntry (RFC 4511 §4.5.2), content from
 * `start` to `end`, into {@link LdapEntry.attributes}: lower-cased descriptions, values of one
 * description (in any case) merged in the order sent, text values as strings, and bytes (a
 * copy, not a view of the message) for binary attributes and for every value of an attribute
 * with a value that is not UTF-8 (as ldapts' `SearchEntry.toObject` gives buffers then).
 * Undefined when the list is malformed (ldapts then decodes it, and reports the error).
 */
export function decodeAttributes(
  bytes: Buffer,
  range: { start: number; end: number },
): Map<string, (string | Uint8Array)[]> | undefined {
  const { end } = range;
  const attributes = new Map<string, (string | Uint8Array)[]>();
  let at = range.start;
  let index = 0;
  while (at < end) {
    if (bytes[at] !== SEQUENCE) return undefined;
    const attributeLength = readLength(bytes, at + 1, end);
    if (attributeLength < 0) return undefined;
    const attributeEnd = contentStart + attributeLength;
    at = contentStart;
    if (bytes[at] !== OCTET_STRING) return undefined;
    const typeLength = readLength(bytes, at + 1, attributeEnd);
    if (typeLength < 0) return undefined;
    const type = typeAt(bytes, contentStart, contentStart + typeLength, index++);
    at = contentStart + typeLength;
    let values: (string | Uint8Array)[] | undefined | typeof NOT_UTF8 = [];
    if (at < attributeEnd) {
      if (bytes[at] !== SET) return undefined;
      const setLength = readLength(bytes, at + 1, attributeEnd);
      const first = contentStart;
      if (setLength < 0 || first + setLength !== attributeEnd) return undefined;
      values = readValues(bytes, first, attributeEnd, type, type.binary);
      if (values === NOT_UTF8) values = readValues(bytes, first, attributeEnd, type, true);
      if (values === undefined || values === NOT_UTF8) return undefined;
    }
    at = attributeEnd;
    if (type.skip) continue;
    const existing = attributes.get(type.name);
    if (existing === undefined) attributes.set(type.name, values);
    else for (const value of values) existing.push(value);
  }
  return attributes;
}
