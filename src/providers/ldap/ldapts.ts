/**
 * Everything that touches ldapts (pinned in deno.json) lives here: the client, the search call,
 * the RFC 2696 paged-results control and cookie, entry conversion, and two speed-ups of ldapts'
 * message decoding. The rest of the `ldap` provider sees only {@link Client}, {@link RawEntry}
 * (an {@link LdapEntry}), {@link newClient} (with {@link livenessOf}) and {@link searchOnce}, so
 * a faster decoder or another LDAP library plugs in here and nowhere else.
 *
 * **Reading entries.** ldapts' own reading costs, per entry, a `BerReader`, a message object, an
 * `Attribute` per attribute with a `Buffer` per value (decoded again as text), an event to three
 * listeners and an `Entry` object keyed by the attribute names as sent, which roster then turned
 * into its own {@link LdapEntry}; and its `MessageParser.read` copies the partial message it
 * holds with every chunk that arrives (`Buffer.concat([buffer, data])`: quadratic in a message
 * spanning many chunks, such as a group with 100,000 members). For roster's clients, installed
 * once on import, `MessageParser.read` frames the messages of each socket chunk itself, joining
 * a message that spans chunks once when it is complete; a SearchResultEntry of the search in
 * flight is decoded on the spot by `decode.ts`, straight from the received bytes into the
 * {@link LdapEntry} that {@link searchOnce} returns, and every other message goes to ldapts
 * whole, which decodes it as before. ldapts still does the connection, bind, TLS, the requests,
 * controls (the paged-results cookie), result codes, references and errors, and any entry in an
 * unusual form (and malformed ones, which it reports). `tests/providers/ldap/ldapts_test.ts`
 * checks that the entries are the same as ldapts' own decoding gives, on crafted messages and
 * on a real slapd ({@link setLeanDecoding} turns the lean decoder off for that).
 * @module
 */

import { Buffer } from "node:buffer";
import {
  Ber,
  BerWriter,
  Client,
  Control,
  type Entry,
  ExtendedResponse,
  MessageParser,
  PagedResultsControl,
  SearchEntry,
  SearchRequest as LdaptsSearchRequest,
  SearchResponse,
  type SearchResult,
} from "ldapts";
import type { LdapEntry } from "../../ldap/entry.ts";
import {
  decodeEntry,
  type DnEntry,
  type DnTable,
  type EntryFrame,
  entryFrame,
  HEADER_INCOMPLETE,
  HEADER_UNUSUAL,
  messageLength,
  newEntryFrame,
} from "./decode.ts";
import { Liveness } from "./liveness.ts";
import type { Connection } from "./settings.ts";

export type { Client };

/**
 * One entry of a {@link searchOnce} answer; `memberDns` when the search asked for DNs to be
 * interned ({@link SearchRequest.dns}) and the decoder had them all (see `decode.ts`).
 */
export type RawEntry = DnEntry;

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
  const parser = parserOf(client);
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

/**
 * ldapts' message parser of `client`. Throws when ldapts no longer has one (a version change
 * that the tests catch), so a read is never cut short silently.
 */
function parserOf(client: Client): MessageParser {
  const parser: unknown = Reflect.get(client, "messageParser");
  if (!(parser instanceof MessageParser)) {
    throw new Error(
      "ldapts has no messageParser: LDAP searches cannot read the server's entries and cookie",
    );
  }
  return parser;
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
  /**
   * Intern canonical DNs in `table` as they are decoded: each entry's DN and the values of
   * `attribute` (lower-case; absent: only the DNs), which then also come as the entry's
   * `memberDns` (see `decode.ts`, `DnEntry`).
   */
  dns?: { table: DnTable; attribute?: string };
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
 * One SearchResultEntry message as ldapts decoded it, through its `toObject` and
 * {@link toLdapEntry}. `requestAttributes` are the attributes asked for (those not sent come
 * back as empty lists).
 */
export function entryOfMessage(message: SearchEntry, requestAttributes: string[]): LdapEntry {
  return toLdapEntry(message.toObject(requestAttributes, BUFFER_ATTRIBUTES));
}

/**
 * Sends one search request and returns its entries, references and paged-results cookie.
 * ldapts' errors are thrown as they are (the provider's `errors.ts` maps them). Throws when a
 * paged search's response was not seen by the cookie listener (an ldapts change), so a read is
 * never cut short silently. The entries are collected as they arrive ({@link collectEntries}),
 * not by ldapts.
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
  const tap = request.page === undefined ? undefined : pageTap(client);
  if (tap !== undefined) resetTap(tap);
  if (request.page !== undefined) {
    controls.push(new PageRequestControl(request.page.size, request.page.cookie));
  }
  const collector = collectEntries(
    parserOf(client),
    request.attributes,
    request.dns === undefined ? {} : { dns: request.dns },
  );
  let entries: RawEntry[];
  let result: SearchResult;
  try {
    result = await livenessOf(client).guard(
      () => client.search(request.base, options, controls),
      { probe: true },
    );
  } finally {
    entries = collector.close();
  }
  if (tap !== undefined && !tap.seen) {
    throw new Error("no search response was seen for a paged search");
  }
  return { entries, references: result.searchReferences, cookie: tap?.cookie };
}

// ---------------------------------------------------------------------------------------------
// Framing and the lean SearchResultEntry path

type Read = MessageParser["read"];
type Details = Parameters<Read>[1];

/** The entries of one {@link searchOnce} call, in the order the server sent them. */
interface EntrySink {
  /** The requested attributes, lower-cased (those not sent come back as empty lists). */
  requested: string[];
  /** Requested attributes as given, for ldapts' `toObject`. */
  requestedAsGiven: string[];
  /** {@link SearchRequest.dns}. */
  dns: DnTable | undefined;
  dnAttribute: string | undefined;
  entries: RawEntry[];
  /** The message ID of the search, once an entry proved it (see {@link sinkTakes}). */
  messageId: number;
}

/** What roster keeps for an ldapts `MessageParser` of one of its clients. */
interface ParserState {
  /** The chunks of a message whose end has not arrived yet. */
  held: Buffer[] | undefined;
  heldLength: number;
  /** The held message's total length; 0 while its header is incomplete. */
  needed: number;
  sink: EntrySink | undefined;
  /** ldapts' requests in flight by message ID, as the last `read` got them. */
  details: Details | undefined;
  frame: EntryFrame;
}

/** The parsers {@link useLeanDecoder} was given. */
const parserStates = new WeakMap<MessageParser, ParserState>();

function stateOf(parser: MessageParser): ParserState {
  const state = parserStates.get(parser);
  if (state === undefined) throw new Error("LDAP message parser was not given useLeanDecoder()");
  return state;
}

let leanDecoding = true;

/**
 * Turns the lean decoder off (`false`) or back on (`true`, the default), for all clients. Off,
 * entries go through ldapts' own `Attribute`/`SearchEntry` decoding and {@link toLdapEntry}:
 * the equivalence tests compare the two on the same server.
 */
export function setLeanDecoding(enabled: boolean): void {
  leanDecoding = enabled;
}

/**
 * Whether an entry with `messageId` belongs to the search `sink` collects: the ID of the
 * search request ldapts has in flight (`details`), learnt from the first entry. One search at
 * a time runs per connection (see `search.ts`).
 */
function sinkTakes(sink: EntrySink, messageId: number, details: Details | undefined): boolean {
  if (messageId === sink.messageId) return true;
  if (messageId === 0 || details === undefined) return false;
  const pending: unknown = details.get(String(messageId));
  if (typeof pending !== "object" || pending === null) return false;
  if (!(Reflect.get(pending, "message") instanceof LdaptsSearchRequest)) return false;
  sink.messageId = messageId;
  return true;
}

/**
 * Gives `parser` roster's framing and lean entry decoding. {@link newClient} does this for every
 * client roster makes; any other ldapts parser in the process keeps ldapts' own reading. While
 * {@link collectEntries} is open, the SearchResultEntry messages of the search in flight go to
 * it: decoded by `decode.ts` straight from the received bytes, or, for an entry that decoder
 * does not take (or with {@link setLeanDecoding} off), by ldapts, whose `SearchEntry` is
 * converted here in the same order.
 */
export function useLeanDecoder(parser: MessageParser): void {
  if (parserStates.has(parser)) return;
  const state: ParserState = {
    held: undefined,
    heldLength: 0,
    needed: 0,
    sink: undefined,
    details: undefined,
    frame: newEntryFrame(),
  };
  parserStates.set(parser, state);
  parser.on("message", (message) => {
    const sink = state.sink;
    if (!(message instanceof SearchEntry) || sink === undefined) return;
    if (!sinkTakes(sink, message.messageId, state.details)) return;
    sink.entries.push(entryOfMessage(message, sink.requestedAsGiven));
  });
}

/**
 * Starts collecting the entries of the search about to be sent on `parser` (one of roster's,
 * see {@link useLeanDecoder}); `requested`: its attributes; `dns`: where to intern canonical
 * DNs ({@link SearchRequest.dns}; default: nowhere). `close()` stops, and gives the entries in
 * the order sent. Throws when a collection is already open on `parser`: one search
 * at a time runs per connection.
 */
export function collectEntries(
  parser: MessageParser,
  requested: string[],
  options: { dns?: { table: DnTable; attribute?: string } } = {},
): { close(): RawEntry[] } {
  const state = stateOf(parser);
  if (state.sink !== undefined) {
    // Entries are told apart by the search in flight: two at once would mix them.
    throw new Error("An LDAP search is already running on this connection");
  }
  const sink: EntrySink = {
    requested: requested.map((name) => name.toLowerCase()),
    requestedAsGiven: requested,
    dns: options.dns?.table,
    dnAttribute: options.dns?.attribute,
    entries: [],
    messageId: -1,
  };
  state.sink = sink;
  return {
    close(): RawEntry[] {
      if (state.sink === sink) state.sink = undefined;
      return sink.entries;
    },
  };
}

/**
 * Decodes the message from `start` to `end` into the open sink when it is an entry of the
 * search in flight and in the usual form; false otherwise (ldapts then reads it).
 */
function takeEntry(state: ParserState, bytes: Buffer, start: number, end: number): boolean {
  const sink = state.sink;
  if (sink === undefined || !leanDecoding) return false;
  const frame = state.frame;
  frame.start = start;
  frame.end = end;
  frame.requested = sink.requested;
  frame.dns = sink.dns;
  frame.dnAttribute = sink.dnAttribute;
  if (!entryFrame(bytes, frame)) return false;
  if (!sinkTakes(sink, frame.messageId, state.details)) return false;
  const entry = decodeEntry(bytes, frame);
  if (entry === undefined) return false;
  sink.entries.push(entry);
  return true;
}

const prototype: { read: Read; rosterFraming?: true } = MessageParser.prototype;

if (prototype.rosterFraming !== true) {
  const original = prototype.read;
  /**
   * ldapts' `read` concatenates every chunk to the partial message it holds
   * (`Buffer.concat([buffer, data])`: a group with 100,000 members, several MiB, was copied once
   * per 64 KiB chunk), then reads one message and calls itself on the rest of the chunk (a
   * `BerReader`, a message object and an event per entry). For roster's parsers this loop frames
   * the messages of each chunk itself: an entry of the search in flight is decoded into the
   * sink on the spot ({@link takeEntry}), every other message goes to ldapts whole, one at a
   * time; a message spanning chunks is held as a list of chunks and joined once when complete.
   */
  prototype.read = function (this: MessageParser, data: Buffer, details: Details): void {
    const state = parserStates.get(this);
    if (state === undefined) return original.call(this, data, details);
    state.details = details;
    // ldapts is reading an unusual header it was handed (below): it keeps the bytes.
    if (Reflect.get(this, "buffer") !== undefined) return original.call(this, data, details);
    let bytes = data;
    let at = 0;
    const held = state.held;
    if (held !== undefined) {
      held.push(data);
      state.heldLength += data.length;
      if (state.needed === 0) {
        // The header was cut: join the few bytes held with this chunk and frame again.
        bytes = Buffer.concat(held, state.heldLength);
        state.held = undefined;
      } else {
        if (state.heldLength < state.needed) return;
        // Join the held message's bytes only; the rest of this chunk is read where it is.
        at = data.length - (state.heldLength - state.needed);
        held[held.length - 1] = data.subarray(0, at);
        const message = Buffer.concat(held, state.needed);
        state.held = undefined;
        if (!takeEntry(state, message, 0, message.length)) original.call(this, message, details);
      }
    }
    while (at < bytes.length) {
      const length = messageLength(bytes, at);
      if (length === HEADER_UNUSUAL) return original.call(this, bytes.subarray(at), details);
      if (length === HEADER_INCOMPLETE || at + length > bytes.length) {
        state.held = [bytes.subarray(at)];
        state.heldLength = bytes.length - at;
        state.needed = length === HEADER_INCOMPLETE ? 0 : length;
        return;
      }
      const end = at + length;
      if (!takeEntry(state, bytes, at, end)) original.call(this, bytes.subarray(at, end), details);
      at = end;
    }
  };
  prototype.rosterFraming = true;
}
