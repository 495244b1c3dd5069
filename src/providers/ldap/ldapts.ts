/**
 * Everything that touches ldapts (pinned in deno.json) lives here: the client, the search call,
 * the RFC 2696 paged-results control and cookie, entry conversion, and two speed-ups of ldapts'
 * message decoding. The rest of the `ldap` provider sees only {@link Client}, {@link RawEntry}
 * (an {@link LdapEntry}), {@link newClient} (with {@link livenessOf}) and {@link searchOnce}, so
 * a faster decoder or another LDAP library plugs in here and nowhere else.
 *
 * **Speed-ups**, installed once, on import (everything else is ldapts' own code;
 * `tests/providers/ldap/ldapts_test.ts` checks that the results are the same as ldapts' own
 * decoding, on crafted messages and on a real slapd):
 *
 * 1. **Reassembly.** `MessageParser.read` concatenates the partial message it holds with every
 *    chunk that arrives (`Buffer.concat([buffer, data])`). A message that spans many socket
 *    chunks, such as a group with 100,000 `member` values (several MiB), was therefore copied
 *    once per chunk: time and garbage quadratic in its size. Here the message's BER length is
 *    read as soon as its header is in, the following chunks are kept in a list, and ldapts gets
 *    the whole message in one concatenation.
 * 2. **Lean SearchResultEntry decoding.** ldapts made, per entry, an `Attribute` per attribute
 *    with a `Buffer` per value (kept, and decoded again as text), then an `Entry` object keyed by
 *    the attribute names as sent, which roster turned into its own {@link LdapEntry}. Here
 *    `SearchEntry.parseMessage` decodes the attribute list straight from the message's bytes
 *    into the {@link LdapEntry} roster uses ({@link decodeAttributes}): the DN, lower-cased
 *    attribute names, text values as strings (ASCII directly, other UTF-8 through a strict
 *    decoder), and copied bytes only for binary attributes (`;binary`, `objectGUID`,
 *    `objectSid`) and for attributes with a value that is not UTF-8, exactly where ldapts gives
 *    buffers. `SearchEntry.toObject` hands that entry over, with the requested attributes that
 *    were not sent as empty lists (as ldapts does). ldapts still does the connection, bind, TLS,
 *    controls (the paged-results cookie), result codes, references and errors; a malformed
 *    entry is left to ldapts' own decoding, which reports it. Unlike ldapts, an attribute named
 *    `dn` does not replace the entry's DN (it is left out), and two attributes of the same name
 *    are merged rather than the second replacing the first.
 * @module
 */

import { Buffer } from "node:buffer";
import {
  Ber,
  type BerReader,
  BerWriter,
  Client,
  Control,
  type Entry,
  ExtendedResponse,
  MessageParser,
  PagedResultsControl,
  SearchEntry,
  SearchResponse,
} from "ldapts";
import type { LdapEntry } from "../../ldap/entry.ts";
import { Liveness } from "./liveness.ts";
import type { Connection } from "./settings.ts";

export type { Client };

/** One entry of a {@link searchOnce} answer. */
export type RawEntry = LdapEntry;

/** AD `LDAP_SERVER_SHOW_DELETED_OID`: lists tombstones in `CN=Deleted Objects`. */
export const SHOW_DELETED_OID = "1.2.840.113556.1.4.417";

/** RFC 2696 simple paged results control. */
export const PAGED_RESULTS_OID = "1.2.840.113556.1.4.319";

/** Converts an ldapts entry to the shared {@link LdapEntry} shape (lower-case attribute names). */
export function toLdapEntry(raw: Entry): LdapEntry {
  const attributes = new Map<string, (string | Uint8Array)[]>();
  for (const [key, value] of Object.entries(raw)) {
    if (key === "dn") continue;
    const list: (string | Uint8Array)[] = Array.isArray(value) ? value : [value];
    const name = key.toLowerCase();
    const existing = attributes.get(name);
    if (existing) existing.push(...list);
    else attributes.set(name, list);
  }
  return { dn: raw.dn, attributes };
}

const BUFFER_ATTRIBUTES = ["objectGUID", "objectguid", "OBJECTGUID", "objectSid"];

/**
 * The RFC 2696 paged-results request control, written by roster instead of ldapts'
 * `searchPaginated`: that one stops as soon as a page comes back with no entries, even when the
 * server sent a cookie to continue (AD does), which would silently cut the read short.
 */
class PageRequestControl extends Control {
  readonly #size: number;
  readonly #cookie: Uint8Array;

  constructor(size: number, cookie: Uint8Array) {
    super(PAGED_RESULTS_OID);
    this.#size = size;
    this.#cookie = cookie;
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    value.writeInt(this.#size);
    if (this.#cookie.length > 0) value.writeBuffer(Buffer.from(this.#cookie), Ber.OctetString);
    else value.writeString("");
    value.endSequence();
    writer.writeBuffer(value.buffer, Ber.OctetString);
  }
}

/** What the last search response on one connection said about paging. */
interface PageTap {
  /** A search response arrived since the last reset. */
  seen: boolean;
  /** Its paged-results cookie: empty at the end, undefined when it had no paged control. */
  cookie: Uint8Array | undefined;
}

const pageTaps = new WeakMap<Client, PageTap>();

/**
 * Listens to the search responses of one connection for their paged-results cookie, which
 * ldapts' `search()` does not return. ldapts (pinned in deno.json) parses every response with
 * its `MessageParser`; this adds a listener after its own, so the cookie is recorded before the
 * `search()` promise continues. Throws when ldapts no longer has that parser (a version change
 * that the tests catch), so a read is never cut short silently.
 */
function pageTap(client: Client): PageTap {
  const existing = pageTaps.get(client);
  if (existing !== undefined) return existing;
  const parser: unknown = Reflect.get(client, "messageParser");
  if (!(parser instanceof MessageParser)) {
    throw new Error(
      "ldapts has no messageParser: paged LDAP searches cannot read the server's cookie",
    );
  }
  const tap: PageTap = { seen: false, cookie: undefined };
  parser.on("message", (message) => {
    if (!(message instanceof SearchResponse)) return;
    const control = message.controls?.find((c) => c instanceof PagedResultsControl);
    tap.seen = true;
    tap.cookie = control instanceof PagedResultsControl
      ? new Uint8Array(control.value?.cookie ?? [])
      : undefined;
  });
  pageTaps.set(client, tap);
  return tap;
}

function resetTap(tap: PageTap): void {
  tap.seen = false;
  tap.cookie = undefined;
}

/**
 * A new, unconnected client for `connection` (`strictDN` off: servers send DNs ldapts' strict
 * parser rejects). LDAPS gets the TLS options here; StartTLS gets them in `startTLS`. Its
 * sockets are made and watched by a {@link Liveness} (see `liveness.ts`; {@link livenessOf}).
 */
export function newClient(connection: Connection): Client {
  const liveness = new Liveness(connection.connectTimeoutMs);
  const client = new Client({
    url: connection.url,
    timeout: connection.timeoutMs,
    connectTimeout: connection.connectTimeoutMs,
    strictDN: false,
    createConnection: liveness.createConnection,
    createSecureConnection: liveness.createSecureConnection,
    ...(connection.mode === "ldaps" && connection.tls !== undefined
      ? { tlsOptions: connection.tls }
      : {}),
  });
  liveness.attach(client);
  const parser: unknown = Reflect.get(client, "messageParser");
  if (parser instanceof MessageParser) {
    // Only roster's own clients get the lean entry decoder; any other ldapts client in the
    // process keeps ldapts' decoding.
    useLeanDecoder(parser);
    // Every message counts as a sign of life; message ID 0 is an unsolicited notification.
    parser.on("message", (message) => {
      const oid = message instanceof ExtendedResponse ? message.oid : undefined;
      const diagnostic: unknown = Reflect.get(message, "errorMessage");
      liveness.onMessage(
        message.messageId,
        oid,
        typeof diagnostic === "string" ? diagnostic : undefined,
      );
    });
  }
  livenesses.set(client, liveness);
  return client;
}

const livenesses = new WeakMap<Client, Liveness>();

/** The {@link Liveness} of a client made by {@link newClient}. */
export function livenessOf(client: Client): Liveness {
  const liveness = livenesses.get(client);
  if (liveness === undefined) throw new Error("LDAP client was not made by newClient()");
  return liveness;
}

/** One search request of {@link searchOnce}. */
export interface SearchRequest {
  base: string;
  filter: string;
  attributes: string[];
  /** @default "sub" */
  scope?: "sub" | "base";
  /** The server-side time limit, in seconds. */
  timeLimit: number;
  /** The most entries the server returns (a larger result is a size-limit error). */
  sizeLimit?: number;
  /** Ask with AD's show-deleted control ({@link SHOW_DELETED_OID}, critical). */
  showDeleted?: boolean;
  /** Ask for one RFC 2696 page of `size` entries after `cookie` (empty for the first page). */
  page?: { size: number; cookie: Uint8Array };
}

/** What one {@link searchOnce} returned. */
export interface SearchAnswer {
  /** The entries in the order sent, attribute names lower-cased (see {@link toLdapEntry}). */
  entries: RawEntry[];
  /** Continuation references (referrals) the server sent. */
  references: string[];
  /**
   * The paged-results cookie of the answer: empty at the end of a paged search, undefined when
   * the answer had no paged-results control (the server did not page) or none was asked.
   */
  cookie: Uint8Array | undefined;
}

/**
 * One parsed SearchResultEntry message as {@link searchOnce} gives it: what the lean decoder made
 * or, when ldapts decoded the message itself, its `toObject` through {@link toLdapEntry}.
 * `requestAttributes` are the attributes asked for (those not sent come back as empty lists).
 */
export function entryOfMessage(message: SearchEntry, requestAttributes: string[]): LdapEntry {
  const raw = message.toObject(requestAttributes, BUFFER_ATTRIBUTES);
  return leanEntryOf(raw) ?? toLdapEntry(raw);
}

/** The entries of a search: made by the lean decoder, or converted from ldapts' own. */
function entriesOf(raws: Entry[]): LdapEntry[] {
  const entries: LdapEntry[] = [];
  for (const raw of raws) entries.push(leanEntryOf(raw) ?? toLdapEntry(raw));
  return entries;
}

/**
 * Sends one search request and returns its entries, references and paged-results cookie.
 * ldapts' errors are thrown as they are (the provider's `errors.ts` maps them). Throws when a
 * paged search's response was not seen by the cookie listener (an ldapts change), so a read is
 * never cut short silently.
 */
export async function searchOnce(client: Client, request: SearchRequest): Promise<SearchAnswer> {
  const options = {
    scope: request.scope ?? "sub",
    filter: request.filter,
    attributes: request.attributes,
    explicitBufferAttributes: BUFFER_ATTRIBUTES,
    timeLimit: request.timeLimit,
    ...(request.sizeLimit === undefined ? {} : { sizeLimit: request.sizeLimit }),
  };
  const controls: Control[] = [];
  if (request.showDeleted) controls.push(new Control(SHOW_DELETED_OID, { critical: true }));
  if (request.page === undefined) {
    const result = await livenessOf(client).guard(
      () => client.search(request.base, options, controls),
      { probe: true },
    );
    return {
      entries: entriesOf(result.searchEntries),
      references: result.searchReferences,
      cookie: undefined,
    };
  }
  const tap = pageTap(client);
  resetTap(tap);
  controls.push(new PageRequestControl(request.page.size, request.page.cookie));
  const result = await livenessOf(client).guard(
    () => client.search(request.base, options, controls),
    { probe: true },
  );
  if (!tap.seen) throw new Error("no search response was seen for a paged search");
  return {
    entries: entriesOf(result.searchEntries),
    references: result.searchReferences,
    cookie: tap.cookie,
  };
}

// ---------------------------------------------------------------------------------------------
// Decoding speed-ups

type Read = MessageParser["read"];
type Details = Parameters<Read>[1];

interface ParserState {
  buffer?: Buffer;
  /** The parser belongs to a client {@link newClient} made: entries get the lean decoder. */
  rosterLean?: true;
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
    const outer = parsingForRoster;
    parsingForRoster = this.rosterLean === true;
    try {
      linearRead.call(this, data, details);
    } finally {
      parsingForRoster = outer;
    }
  };
  const linearRead = function (this: ParserState, data: Buffer, details: Details): void {
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

// ---------------------------------------------------------------------------------------------
// The lean SearchResultEntry decoder

/** Attributes whose values stay bytes: AD's binary identifiers (see `BUFFER_ATTRIBUTES`). */
const BINARY_ATTRIBUTES = new Set(["objectguid", "objectsid"]);

const OCTET_STRING = 0x04;
const SEQUENCE = 0x30;
const SET = 0x31;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

let leanDecoding = true;

/**
 * Gives `parser`'s entries the lean decoder. {@link newClient} does this for every client roster
 * makes; any other ldapts parser in the process keeps ldapts' own decoding.
 */
export function useLeanDecoder(parser: MessageParser): void {
  Reflect.set(parser, "rosterLean", true);
}

/** Set while a parser of one of roster's own clients reads (see {@link newClient}). */
let parsingForRoster = false;

/**
 * Turns the lean decoder off (`false`) or back on (`true`, the default), for all clients. Off,
 * entries go through ldapts' own `Attribute`/`SearchEntry` decoding and {@link toLdapEntry}:
 * the equivalence tests compare the two on the same server.
 */
export function setLeanDecoding(enabled: boolean): void {
  leanDecoding = enabled;
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
  const text = bytes.toString("utf8", start, end);
  let type = typesByText.get(text);
  if (type === undefined) {
    const name = text.toLowerCase();
    type = {
      bytes: new Uint8Array(bytes.subarray(start, end)),
      name,
      binary: BINARY_ATTRIBUTES.has(name) || name.endsWith(";binary"),
      skip: text === "dn" || text === "__proto__",
    };
    if (typesByText.size >= 1000) typesByText.clear();
    typesByText.set(text, type);
  }
  lastTypes[index] = type;
  return type;
}

/** Where the content of the element whose length was read last starts. */
let contentStart = 0;

/**
 * Reads a BER length at `at` (the byte after the tag). Returns the content length and sets
 * {@link contentStart}, or returns -1 when the length is indefinite, longer than 4 bytes or
 * runs past `limit`.
 */
function readLength(bytes: Buffer, at: number, limit: number): number {
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

function isAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((bytes[i] ?? 0) >= 0x80) return false;
  return true;
}

const NOT_UTF8 = Symbol("not UTF-8");

/**
 * The OCTET STRING values of a SET (content from `start` to `end`): as text, or as copied bytes
 * when `asBytes`. Undefined when the SET is malformed; {@link NOT_UTF8} when a value is not
 * UTF-8 text.
 */
function readValues(
  bytes: Buffer,
  start: number,
  end: number,
  asBytes: boolean,
): (string | Uint8Array)[] | undefined | typeof NOT_UTF8 {
  const values: (string | Uint8Array)[] = [];
  let at = start;
  while (at < end) {
    if (bytes[at] !== OCTET_STRING) return undefined;
    const length = readLength(bytes, at + 1, end);
    if (length < 0) return undefined;
    const from = contentStart;
    at = from + length;
    if (asBytes) {
      values.push(new Uint8Array(bytes.buffer, bytes.byteOffset + from, length).slice());
    } else if (length === 0) {
      values.push("");
    } else if (isAscii(bytes, from, at)) {
      values.push(bytes.toString("latin1", from, at));
    } else {
      try {
        values.push(strictUtf8.decode(bytes.subarray(from, at)));
      } catch {
        return NOT_UTF8;
      }
    }
  }
  return values;
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
      values = readValues(bytes, first, attributeEnd, type.binary);
      if (values === NOT_UTF8) values = readValues(bytes, first, attributeEnd, true);
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

/** The decoded entry a lean {@link SearchEntry} carries, read back by {@link leanEntryOf}. */
const LEAN_ENTRY = Symbol("roster lean entry");

/** An entry as the lean decoder makes it (its attribute lists stay open for `toObject`). */
interface DecodedEntry {
  dn: string;
  attributes: Map<string, (string | Uint8Array)[]>;
}

interface LeanSearchEntry {
  name: string;
  [LEAN_ENTRY]?: DecodedEntry;
}

/** The entry the patched `SearchEntry.toObject` handed over, if the lean decoder made it. */
function leanEntryOf(raw: Entry): LdapEntry | undefined {
  const lean: unknown = Reflect.get(raw, LEAN_ENTRY);
  if (typeof lean !== "object" || lean === null) return undefined;
  if (!("dn" in lean) || typeof lean.dn !== "string") return undefined;
  if (!("attributes" in lean) || !(lean.attributes instanceof Map)) return undefined;
  return { dn: lean.dn, attributes: lean.attributes };
}

const entryPrototype: {
  parseMessage: SearchEntry["parseMessage"];
  toObject: SearchEntry["toObject"];
  rosterLean?: true;
} = SearchEntry.prototype;

if (entryPrototype.rosterLean !== true) {
  const parseMessage = entryPrototype.parseMessage;
  const toObject = entryPrototype.toObject;
  entryPrototype.parseMessage = function (
    this: SearchEntry & LeanSearchEntry,
    reader: BerReader,
  ): void {
    if (!leanDecoding || !parsingForRoster) return parseMessage.call(this, reader);
    const first = reader.offset;
    const name = reader.readString() ?? "";
    const bytes = reader.buffer;
    const at = reader.offset;
    const length = at < bytes.length && bytes[at] === SEQUENCE
      ? readLength(bytes, at + 1, reader.offset + reader.remain)
      : -1;
    const start = contentStart;
    const attributes = length < 0
      ? undefined
      : decodeAttributes(bytes, { start, end: start + length });
    if (attributes === undefined) {
      reader.offset = first;
      return parseMessage.call(this, reader);
    }
    reader.offset = start + length;
    this.name = name;
    this[LEAN_ENTRY] = { dn: name, attributes };
  };
  entryPrototype.toObject = function (
    this: SearchEntry & LeanSearchEntry,
    requestAttributes: string[],
    explicitBufferAttributes: string[],
  ): Entry {
    const entry = this[LEAN_ENTRY];
    if (entry === undefined) {
      return toObject.call(this, requestAttributes, explicitBufferAttributes);
    }
    // Requested attributes the server did not send, as empty lists (as ldapts does).
    for (const requested of requestAttributes) {
      const name = requested.toLowerCase();
      if (!entry.attributes.has(name)) entry.attributes.set(name, []);
    }
    const object: Entry = { dn: entry.dn };
    Reflect.set(object, LEAN_ENTRY, entry);
    return object;
  };
  entryPrototype.rosterLean = true;
}
