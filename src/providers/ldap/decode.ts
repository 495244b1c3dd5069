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

/** The values of one attribute, as {@link LdapEntry.attributes} holds them. */
type Values = (string | Uint8Array)[];

/**
 * The attributes of one decoded entry, {@link LdapEntry.attributes}: a `ReadonlyMap` over two
 * arrays, the lower-cased descriptions (shared by the entries of a search that have the same
 * ones, in the same order) and their values. A `Map` of four attributes takes about 400 bytes;
 * this, about 100, and entries are made 100,000s of times per read. Lookups compare the few
 * names in turn.
 */
export class EntryAttributes implements ReadonlyMap<string, Values> {
  readonly #names: readonly string[];
  readonly #lists: Values[];

  /** `names[i]` holds `lists[i]`; `names` are distinct. */
  constructor(names: readonly string[], lists: Values[]) {
    this.#names = names;
    this.#lists = lists;
  }

  get size(): number {
    return this.#names.length;
  }

  get(name: string): Values | undefined {
    const index = this.#names.indexOf(name);
    return index < 0 ? undefined : this.#lists[index];
  }

  has(name: string): boolean {
    return this.#names.includes(name);
  }

  forEach(
    callback: (values: Values, name: string, map: ReadonlyMap<string, Values>) => void,
    thisArg?: unknown,
  ): void {
    for (const [name, values] of this) callback.call(thisArg, values, name, this);
  }

  *entries(): MapIterator<[string, Values]> {
    const names = this.#names;
    for (let i = 0; i < names.length; i++) yield [names[i] ?? "", this.#lists[i] ?? []];
  }

  *keys(): MapIterator<string> {
    yield* this.#names;
  }

  *values(): MapIterator<Values> {
    yield* this.#lists;
  }

  [Symbol.iterator](): MapIterator<[string, Values]> {
    return this.entries();
  }
}

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

/**
 * One LDAPMessage to read as a SearchResultEntry ({@link entryFrame}, {@link decodeEntry}): where
 * it is and what was asked for, then the parts {@link entryFrame} found. One object is reused
 * for every message (nothing is allocated per message to say where it is).
 */
export interface EntryFrame {
  /** The message, from `start` to `end` (as {@link messageLength} gave it). */
  start: number;
  end: number;
  /** The attributes asked for, lower-cased (those not sent come back as empty lists). */
  requested: readonly string[];
  messageId: number;
  dnStart: number;
  dnEnd: number;
  /** The content of the PartialAttributeList. */
  listStart: number;
  listEnd: number;
}

/** A new {@link EntryFrame} for the messages of a search asking for `requested`. */
export function newEntryFrame(requested: readonly string[] = []): EntryFrame {
  return {
    start: 0,
    end: 0,
    requested,
    messageId: 0,
    dnStart: 0,
    dnEnd: 0,
    listStart: 0,
    listEnd: 0,
  };
}

/**
 * Reads the parts of the message `frame` points at into `frame` when it is a SearchResultEntry in
 * the usual form: a positive message ID of at most 4 bytes, the entry's DN and attribute list
 * filling the operation, no controls. False for any other message and for anything unusual,
 * which ldapts then decodes (or reports) itself.
 */
export function entryFrame(bytes: Uint8Array, frame: EntryFrame): boolean {
  const { start, end } = frame;
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
 * Decodes the SearchResultEntry whose parts {@link entryFrame} read: the DN and its attributes
 * (see {@link decodeAttributes}), with every attribute of `frame.requested` the server did not
 * send as an empty list, as ldapts does. Undefined when the attribute list is malformed.
 */
export function decodeEntry(bytes: Buffer, frame: EntryFrame): LdapEntry | undefined {
  const attributes = readAttributes(bytes, frame.listStart, frame.listEnd, frame.requested);
  if (attributes === undefined) return undefined;
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
 * Shaped to allocate little, as it runs for every attribute of every entry: the values are
 * counted first, so that the array has their exact size (a one-element literal for the usual
 * one value; growing an array by `push` allocates twice or more); and a short ASCII value that
 * is the same as the last entry's at the same position (`objectClass` values, flags) is the same
 * string, compared with the bytes rather than decoded again.
 */
function readValues(
  bytes: Buffer,
  start: number,
  end: number,
  type: TypeName,
  asBytes: boolean,
): Values | undefined | typeof NOT_UTF8 {
  let total = 0;
  for (let at = start; at < end; total++) {
    if (bytes[at] !== OCTET_STRING) return undefined;
    const length = readLength(bytes, at + 1, end);
    if (length < 0) return undefined;
    at = contentStart + length;
  }
  if (total === 0) return [];
  readLength(bytes, start + 1, end);
  if (total === 1) {
    const value = readValue(bytes, contentStart, end, type, asBytes, 0);
    return value === NOT_UTF8 ? NOT_UTF8 : [value];
  }
  const values = new Array<string | Uint8Array>(total);
  let at = start;
  for (let index = 0; index < total; index++) {
    const length = readLength(bytes, at + 1, end);
    const from = contentStart;
    at = from + length;
    const value = readValue(bytes, from, at, type, asBytes, index);
    if (value === NOT_UTF8) return NOT_UTF8;
    values[index] = value;
  }
  return values;
}

/** The value from `from` to `to`, the `index`th of its attribute (see {@link readValues}). */
function readValue(
  bytes: Buffer,
  from: number,
  to: number,
  type: TypeName,
  asBytes: boolean,
  index: number,
): string | Uint8Array | typeof NOT_UTF8 {
  const length = to - from;
  if (asBytes) return new Uint8Array(bytes.buffer, bytes.byteOffset + from, length).slice();
  if (length === 0) return "";
  const recent = type.recent;
  const known = index < RECENT_VALUES ? recent[index] : undefined;
  if (known !== undefined && known.length === length && sameText(known, bytes, from)) return known;
  if (isAscii(bytes, from, to)) {
    // ASCII reads the same as UTF-8, which Deno's Buffer decodes without a name lookup.
    const value = bytes.toString("utf8", from, to);
    if (length <= RECENT_LENGTH && index < RECENT_VALUES) recent[index] = value;
    return value;
  }
  try {
    return strictUtf8.decode(bytes.subarray(from, to));
  } catch {
    return NOT_UTF8;
  }
}

/**
 * The names and values of the entry being decoded, the first {@link count} of each: kept from
 * entry to entry (setting an array's length to 0 would drop its storage).
 */
const names: string[] = [];
const lists: Values[] = [];
let count = 0;
/** The names of the last entry decoded, shared with the next one that has the same. */
let lastNames: readonly string[] = [];

function indexOfName(name: string): number {
  for (let i = 0; i < count; i++) if (names[i] === name) return i;
  return -1;
}

function add(name: string, values: Values): void {
  names[count] = name;
  lists[count] = values;
  count++;
}

/**
 * Decodes the PartialAttributeList of a SearchResultEntry (RFC 4511 §4.5.2), content from
 * `start` to `end`, into {@link LdapEntry.attributes} ({@link EntryAttributes}): lower-cased
 * descriptions, values of one description (in any case) merged in the order sent, text values as
 * strings, and bytes (a copy, not a view of the message) for binary attributes and for every
 * value of an attribute with a value that is not UTF-8 (as ldapts' `SearchEntry.toObject` gives
 * buffers then); then each of `requested` (lower-cased) that was not sent, as an empty list
 * (as ldapts does). Undefined when the list is malformed (ldapts then decodes it, and reports the
 * error).
 */
export function decodeAttributes(
  bytes: Buffer,
  range: { start: number; end: number; requested?: readonly string[] },
): EntryAttributes | undefined {
  return readAttributes(bytes, range.start, range.end, range.requested ?? []);
}

/** {@link decodeAttributes}, with nothing allocated to call it. */
function readAttributes(
  bytes: Buffer,
  start: number,
  end: number,
  requested: readonly string[],
): EntryAttributes | undefined {
  count = 0;
  let at = start;
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
    let values: Values | undefined | typeof NOT_UTF8 = [];
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
    const existing = indexOfName(type.name);
    if (existing < 0) {
      add(type.name, values);
    } else {
      lists[existing] = (lists[existing] ?? []).concat(values);
    }
  }
  for (const name of requested) if (indexOfName(name) < 0) add(name, []);
  if (!sameAsLastNames()) lastNames = names.slice(0, count);
  const values = lists.slice(0, count);
  // Let go of the values (the names are kept anyway).
  lists.fill(EMPTY, 0, count);
  return new EntryAttributes(lastNames, values);
}

const EMPTY: Values = [];

function sameAsLastNames(): boolean {
  if (lastNames.length !== count) return false;
  for (let i = 0; i < count; i++) if (names[i] !== lastNames[i]) return false;
  return true;
}
