/**
 * Everything that touches ldapts (pinned in deno.json) lives here: the client, the search call,
 * the RFC 2696 paged-results control and cookie, entry conversion, and two speed-ups of ldapts'
 * message decoding. The rest of the `ldap` provider sees only {@link Client}, {@link RawEntry},
 * {@link newClient} (with {@link livenessOf}), {@link searchOnce} and {@link toLdapEntry}, so
 * a faster decoder or another LDAP library plugs in here and nowhere else.
 *
 * **Speed-ups**, installed once, on import (everything else is ldapts' own code;
 * `tests/providers/ldap/ldapts_test.ts` checks that the results are the same):
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
import {
  Attribute,
  Ber,
  type BerReader,
  BerWriter,
  Client,
  Control,
  type Entry,
  ExtendedResponse,
  MessageParser,
  PagedResultsControl,
  ProtocolOperation,
  SearchResponse,
} from "ldapts";
import type { LdapEntry } from "../../ldap/entry.ts";
import { Liveness } from "./liveness.ts";
import type { Connection } from "./settings.ts";

export type { Client };

/** One entry as ldapts returns it (convert with {@link toLdapEntry}). */
export type RawEntry = Entry;

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
      entries: result.searchEntries,
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
    entries: result.searchEntries,
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
