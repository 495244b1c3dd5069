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
 * A search may also name a {@link DnTable}: then every DN already in canonical form (the
 * entry's DN, and the values of one DN attribute, the member attribute of a group search) is
 * found by its bytes and given as the one string the read holds for it, and an entry whose DN
 * attribute holds only canonical DNs also carries them de-duplicated ({@link DnEntry}).
 *
 * The functions are hand-written loops over the bytes with module-level cursors instead of
 * result objects: they run once per entry and per value (100,000s per read), and every object
 * they do not allocate is garbage the collector does not sweep.
 * @module
 */

import type { Buffer } from "node:buffer";
import { isNormalizedTypeCode, isNormalizedValueCode } from "../../ldap/dn.ts";
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

  /** The same attributes, with the values of `name` (lower-cased) left out (an empty list). */
  withEmpty(name: string): EntryAttributes {
    const index = this.#names.indexOf(name);
    if (index < 0) return this;
    const lists = this.#lists.slice();
    lists[index] = [];
    return new EntryAttributes(this.#names, lists);
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
  /**
   * Where canonical DNs are interned (the entry's DN, and the values of {@link dnAttribute}),
   * or undefined: decoded as any text.
   */
  dns: DnTable | undefined;
  /** The attribute (lower-cased) whose values are DNs to intern and list, see {@link DnEntry}. */
  dnAttribute: string | undefined;
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
    dns: undefined,
    dnAttribute: undefined,
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
export function decodeEntry(bytes: Buffer, frame: EntryFrame): DnEntry | undefined {
  const dns = frame.dns;
  dnTable = dns;
  dnAttribute = dns === undefined ? undefined : frame.dnAttribute;
  const attributes = readAttributes(bytes, frame.listStart, frame.listEnd, frame.requested);
  dnTable = undefined;
  if (attributes === undefined) return undefined;
  const { dnStart, dnEnd } = frame;
  const dn = dns !== undefined && isCanonicalDn(bytes, dnStart, dnEnd)
    ? dns.lookup(bytes, dnStart, dnEnd)
    : text(bytes, dnStart, dnEnd);
  if (dnAttribute === undefined) return { dn, attributes };
  const memberDns = dnUnlisted ? undefined : dnValuesSeen === 0 ? [] : dnList;
  dnList = undefined;
  return memberDns === undefined ? { dn, attributes } : { dn, attributes, memberDns };
}

/**
 * A decoded entry ({@link LdapEntry}) with, when the search named a DN attribute
 * ({@link EntryFrame.dnAttribute}) and every value of it is a canonical DN
 * ({@link isCanonicalDn}), those values de-duplicated in the order sent: exactly the member
 * references `entryToGroup` would compute from them (a canonical DN is its own normalised
 * form), found without a string or a `Map` lookup per value. Absent when any value is not a
 * canonical DN, is not UTF-8, or the attribute was sent twice (then the values are mapped one by
 * one).
 */
export interface DnEntry extends LdapEntry {
  memberDns?: readonly string[];
}

/** Bytes as text, as ldapts reads a DN or description: UTF-8 with U+FFFD replacing bad bytes. */
function text(bytes: Buffer, start: number, end: number): string {
  return bytes.toString("utf8", start, end);
}

/**
 * Whether the bytes from `start` to `end` are a DN already in `normalizeDn` form, by the rules
 * of `isNormalizedDn` (`src/ldap/dn.ts`) applied to the bytes: RDNs of one `type=value` each
 * joined by `,`, types of `[a-z][a-z0-9-]*`, values of printable ASCII without capitals,
 * without `\ " + ; # < > =` and without a space at either end. Such bytes are ASCII, so the
 * text is the same characters, and true here is true there.
 */
export function isCanonicalDn(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  for (;;) {
    // the type: [a-z][a-z0-9-]*
    let c = i < end ? bytes[i] ?? 0 : 0;
    if (c < 97 || c > 122) return false;
    i++;
    for (; i < end; i++) {
      c = bytes[i] ?? 0;
      if (!isNormalizedTypeCode(c)) break;
    }
    if (i >= end || c !== 61) return false; // "="
    i++;
    // the value: at least one character, none escaped or changed by normalisation
    const valueStart = i;
    for (; i < end; i++) {
      c = bytes[i] ?? 0;
      if (c === 44) break; // ","
      if (!isNormalizedValueCode(c)) return false;
    }
    if (i === valueStart || bytes[valueStart] === 32 || bytes[i - 1] === 32) return false;
    if (i === end) return true;
    i++; // ","
  }
}

/**
 * One string per canonical DN ({@link isCanonicalDn}) of a read, found by its bytes: a user's
 * DN and the same DN in every group that lists it are one string, made once, and a member value
 * already seen costs a hash of its bytes and a comparison, not a new string hashed again by a
 * `Map` (a first `Map` lookup of a new string costs about a microsecond in a large map, and a
 * large directory has a few member values per user). Open addressing over typed arrays; the
 * strings are compared with the bytes character by character (they are ASCII). Each string
 * also has a stamp, so the values of one entry are de-duplicated without a `Set`.
 */
export class DnTable {
  // Plain (TypeScript `private`) members rather than `#` ones: V8 fell into a loop of
  // optimising and deoptimising the decoder around a `#` method call on the rare path (a DN
  // seen for the first time in a member list), about a thousand times per read.
  /**
   * Three numbers per slot: the index + 1 of the string held (0: empty), its hash, and its
   * stamp (see {@link firstTime}); a slot is looked at with one memory access where three
   * arrays would take three. The slot count is a power of 2, at most half of them used.
   */
  private slots = new Int32Array(3 << 12);
  private mask = (1 << 12) - 1;
  private readonly strings: string[] = [];
  private stamp = 0;

  /** How many distinct DNs the table holds. */
  get size(): number {
    return this.strings.length;
  }

  /**
   * The string of the ASCII bytes from `start` to `end` (a canonical DN): the one made the
   * first time these bytes were seen.
   */
  lookup(bytes: Buffer, start: number, end: number): string {
    const slot = this.find(bytes, start, end);
    return this.strings[(this.slots[slot] ?? 0) - 1] ?? "";
  }

  /** A new stamp for {@link firstTime}: the start of another list to de-duplicate. */
  nextStamp(): void {
    this.stamp++;
  }

  /**
   * The string of the bytes (as {@link lookup}) when they were not seen yet since the last
   * {@link nextStamp}, else undefined.
   */
  firstTime(bytes: Buffer, start: number, end: number): string | undefined {
    const slot = this.find(bytes, start, end);
    const slots = this.slots;
    if (slots[slot + 2] === this.stamp) return undefined;
    slots[slot + 2] = this.stamp;
    return this.strings[(slots[slot] ?? 0) - 1];
  }

  /** The slot (its first number's position) holding the bytes, added when new. */
  private find(bytes: Buffer, start: number, end: number): number {
    // FNV-1a over the bytes.
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ (bytes[i] ?? 0), 0x01000193);
    const length = end - start;
    const slots = this.slots;
    const mask = this.mask;
    for (let at = hash & mask;; at = (at + 1) & mask) {
      const slot = at * 3;
      const held = slots[slot] ?? 0;
      if (held === 0) return this.add(bytes, start, end, hash, slot);
      if (slots[slot + 1] !== hash) continue;
      const known = this.strings[held - 1] ?? "";
      if (known.length === length && sameText(known, bytes, start)) return slot;
    }
  }

  private add(bytes: Buffer, start: number, end: number, hash: number, slot: number): number {
    const strings = this.strings;
    // ASCII: the bytes' own characters (Deno's Buffer decodes UTF-8 without a name lookup).
    strings.push(bytes.toString("utf8", start, end));
    const slots = this.slots;
    slots[slot] = strings.length;
    slots[slot + 1] = hash;
    slots[slot + 2] = 0;
    if (strings.length * 2 <= this.mask + 1) return slot;
    // Half full: twice the slots, each string placed again by its hash (stamps kept).
    const mask = (this.mask << 1) | 1;
    const grown = new Int32Array((mask + 1) * 3);
    let moved = slot;
    for (let from = 0; from < slots.length; from += 3) {
      if (slots[from] === 0) continue;
      let at = (slots[from + 1] ?? 0) & mask;
      while (grown[at * 3] !== 0) at = (at + 1) & mask;
      grown[at * 3] = slots[from] ?? 0;
      grown[at * 3 + 1] = slots[from + 1] ?? 0;
      grown[at * 3 + 2] = slots[from + 2] ?? 0;
      if (from === slot) moved = at * 3;
    }
    this.slots = grown;
    this.mask = mask;
    return moved;
  }
}

/** The table and DN attribute of the entry being decoded (see {@link decodeEntry}). */
let dnTable: DnTable | undefined;
let dnAttribute: string | undefined;
/** How many times the entry being decoded sent {@link dnAttribute}. */
let dnValuesSeen = 0;
/** Some values of {@link dnAttribute} in the entry being decoded were not listed. */
let dnUnlisted = false;
/** Its values, de-duplicated, when every one was a canonical DN. */
let dnList: string[] | undefined;

/**
 * {@link readValues} for the values of {@link dnAttribute} (a SET from `start` to `end`, its
 * values counted as `total`): canonical DNs come from `table` ({@link dnTable}), anything else is read as
 * {@link readValue} reads it; and when every value is a canonical DN and the attribute is
 * seen for the first time in the entry, {@link dnList} gets them without repeats.
 */
function readDnValues(
  bytes: Buffer,
  start: number,
  end: number,
  type: TypeName,
  total: number,
  table: DnTable,
): Values | typeof NOT_UTF8 {
  const values = new Array<string | Uint8Array>(total);
  const first = dnValuesSeen === 0;
  dnValuesSeen++;
  if (!first) dnUnlisted = true;
  table.nextStamp();
  const listed = internValues(bytes, start, end, type, table, values);
  if (listed === NOT_TEXT) return NOT_UTF8;
  // Exact length: the lists of every group are kept for the whole run.
  dnList = first && listed >= 0 ? uniqueDns.slice(0, listed) : undefined;
  return values;
}

/** {@link internValues}: a value was not UTF-8. */
const NOT_TEXT = -2;
/** {@link internValues}: a value was not a canonical DN. */
const NOT_ALL_DNS = -1;
/** The canonical DNs of the last {@link internValues}, without repeats (a reused array). */
const uniqueDns: string[] = [];

/**
 * The loop of {@link readDnValues}: fills `values`, and {@link uniqueDns} with the canonical
 * DNs seen for the first time since the table's last stamp. Returns how many went to
 * {@link uniqueDns}, {@link NOT_ALL_DNS} or {@link NOT_TEXT}. A function of its own, ending
 * with the loop: V8 compiles a long loop (a group of 100,000 members) while it runs, and kept
 * the code after it compiled without type feedback, which sent every later call back to the
 * interpreter (about a thousand times per read).
 */
function internValues(
  bytes: Buffer,
  start: number,
  end: number,
  type: TypeName,
  table: DnTable,
  values: (string | Uint8Array)[],
): number {
  let listed = 0;
  let at = start;
  for (let index = 0; index < values.length; index++) {
    const length = readLength(bytes, at + 1, end);
    const from = contentStart;
    at = from + length;
    if (isCanonicalDn(bytes, from, at)) {
      const first = table.firstTime(bytes, from, at);
      if (first === undefined) {
        values[index] = table.lookup(bytes, from, at);
      } else {
        values[index] = first;
        if (listed >= 0) uniqueDns[listed++] = first;
      }
    } else {
      listed = NOT_ALL_DNS;
      const value = readValue(bytes, from, at, type, false, index);
      if (value === NOT_UTF8) return NOT_TEXT;
      values[index] = value;
    }
  }
  return listed;
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
  const table = dnTable;
  if (table !== undefined && type.name === dnAttribute) {
    if (asBytes) {
      // Bytes (a binary attribute, or text that is not UTF-8): mapped one by one.
      dnUnlisted = true;
    } else {
      const dnValues = readDnValues(bytes, start, end, type, total, table);
      if (dnValues !== NOT_UTF8) return dnValues;
      // Not UTF-8: read again as bytes (by the caller).
      dnUnlisted = true;
      return NOT_UTF8;
    }
  }
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
  dnValuesSeen = 0;
  dnUnlisted = false;
  dnList = undefined;
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
