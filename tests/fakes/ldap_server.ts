/**
 * A small scriptable fake LDAP server (plain LDAP on 127.0.0.1, port 0) for the ways a server
 * can end a read short or die that slapd does not do on demand: any result code on any page, a
 * missing paged-results control, continuation references, a Notice of Disconnection, a closed,
 * half-closed or silent connection mid-page, a slow server that still answers Who am I?, and
 * ranged attribute values with gaps; and ({@link startFakeLdap}) a paged search walked from a
 * script of pages, for AD's empty page with a cookie to continue. It speaks just enough BER for a
 * simple bind, searches (with the RFC 2696 control's cookie), extended requests and unbind.
 * @module
 */

const PAGED_OID = "1.2.840.113556.1.4.319";
const NOTICE_OID = "1.3.6.1.4.1.1466.20036";

/** One entry to send: DN and text attributes. */
export interface FakeEntry {
  dn: string;
  attributes: Record<string, string[]>;
}

/** What the server does, in order, in answer to one search request. */
export type Step =
  | { entry: FakeEntry }
  | { reference: string[] }
  /** SearchResultDone; `cookie` undefined: no paged-results control in the answer. */
  | { done: { code?: number; message?: string; cookie?: string } }
  /** An unsolicited Notice of Disconnection (RFC 4511 §4.4.1), then the connection closes. */
  | { notice: string }
  /** Wait, still answering other requests (Who am I?) on the connection. */
  | { wait: number }
  /** Close the connection. */
  | "close"
  /** Shut down the server's sending side only (a half-closed socket). */
  | "halfClose"
  /** Answer nothing more on this connection, keeping it open. */
  | "stall";

/** A search request as the server saw it. */
export interface FakeSearch {
  base: string;
  attributes: string[];
  /** The paged-results cookie ("" for the first page or an unpaged search). */
  cookie: string;
  /** The paged-results control was sent. */
  paged: boolean;
}

/** The script of a {@link startFakeLdapServer}. */
export interface FakeScript {
  /** How the bind is answered. @default "ok" */
  bind?: "ok" | "stall" | "close";
  /** The steps answering one search request. */
  search(request: FakeSearch): Step[];
}

/** A running fake server. */
export interface FakeLdapServer extends AsyncDisposable {
  port: number;
  searches: FakeSearch[];
  /** Extended requests received (their OIDs). */
  extended: string[];
  close(): Promise<void>;
}

// --- BER ---------------------------------------------------------------------------------------

function length(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, content: Uint8Array | number[]): Uint8Array {
  const body = content instanceof Uint8Array ? [...content] : content;
  return new Uint8Array([tag, ...length(body.length), ...body]);
}

const cat = (...parts: Uint8Array[]) => parts.flatMap((p) => [...p]);
const text = (tag: number, value: string) => tlv(tag, new TextEncoder().encode(value));
const int = (tag: number, value: number) => {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v >>= 8;
  } while (v > 0);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return tlv(tag, bytes);
};

interface Tlv {
  tag: number;
  value: Uint8Array;
  end: number;
}

function readTlv(buf: Uint8Array, offset: number): Tlv | undefined {
  if (offset + 2 > buf.length) return undefined;
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (start + n > buf.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) return undefined;
  return { tag, value: buf.subarray(start, start + len), end: start + len };
}

function children(buf: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  for (let t = readTlv(buf, 0); t !== undefined; t = readTlv(buf, offset)) {
    out.push(t);
    offset = t.end;
  }
  return out;
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function readInt(value: Uint8Array): number {
  let n = 0;
  for (const b of value) n = (n << 8) | b;
  return n;
}

const message = (id: number, op: Uint8Array, controls?: Uint8Array) =>
  tlv(0x30, cat(int(0x02, id), op, ...(controls === undefined ? [] : [controls])));

const result = (tag: number, code = 0, diagnostic = "", extra: Uint8Array[] = []) =>
  tlv(tag, cat(int(0x0a, code), text(0x04, ""), text(0x04, diagnostic), ...extra));

function entryOp(e: FakeEntry): Uint8Array {
  const list = Object.entries(e.attributes).map(([type, values]) =>
    tlv(0x30, cat(text(0x04, type), tlv(0x31, cat(...values.map((v) => text(0x04, v))))))
  );
  return tlv(0x64, cat(text(0x04, e.dn), tlv(0x30, cat(...list))));
}

function pagedControl(cookie: string): Uint8Array {
  const value = tlv(0x30, cat(int(0x02, 0), text(0x04, cookie)));
  return tlv(0xa0, tlv(0x30, cat(text(0x04, PAGED_OID), tlv(0x04, value))));
}

function parseSearch(op: Tlv, controls: Tlv | undefined): FakeSearch {
  const parts = children(op.value);
  const base = parts[0] === undefined ? "" : decode(parts[0].value);
  const last = parts[parts.length - 1];
  const attributes = last === undefined ? [] : children(last.value).map((a) => decode(a.value));
  let cookie = "";
  let paged = false;
  for (const control of controls === undefined ? [] : children(controls.value)) {
    const [oid, ...rest] = children(control.value);
    if (oid === undefined || decode(oid.value) !== PAGED_OID) continue;
    paged = true;
    const value = rest.find((t) => t.tag === 0x04);
    const seq = value === undefined ? undefined : children(value.value)[0];
    const c = seq === undefined ? undefined : children(seq.value)[1];
    cookie = c === undefined ? "" : decode(c.value);
  }
  return { base, attributes, cookie, paged };
}

/** Starts the server. */
export function startFakeLdapServer(script: FakeScript): FakeLdapServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const searches: FakeSearch[] = [];
  const extended: string[] = [];
  const conns = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();
  const serve = async (conn: Deno.TcpConn) => {
    conns.add(conn);
    let stalled = false;
    let closed = false;
    let writing = Promise.resolve();
    const send = (bytes: Uint8Array) => {
      writing = writing.then(async () => {
        if (!stalled && !closed) await conn.write(bytes);
      }).catch(() => {});
      return writing;
    };
    const close = () => {
      closed = true;
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    };
    const answerSearch = async (id: number, request: FakeSearch) => {
      for (const step of script.search(request)) {
        if (closed || stalled) return;
        if (step === "close") return close();
        if (step === "stall") {
          stalled = true;
          return;
        }
        if (step === "halfClose") {
          await writing;
          await conn.closeWrite().catch(() => {});
          stalled = true;
          return;
        }
        if ("wait" in step) await new Promise((resolve) => setTimeout(resolve, step.wait));
        else if ("entry" in step) await send(message(id, entryOp(step.entry)));
        else if ("reference" in step) {
          await send(message(id, tlv(0x73, cat(...step.reference.map((u) => text(0x04, u))))));
        } else if ("notice" in step) {
          await send(message(0, result(0x78, 52, step.notice, [text(0x8a, NOTICE_OID)])));
          return close();
        } else {
          const { code = 0, message: diagnostic = "", cookie } = step.done;
          await send(
            message(
              id,
              result(0x65, code, diagnostic),
              cookie === undefined ? undefined : pagedControl(cookie),
            ),
          );
        }
      }
    };
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) return;
        buf = new Uint8Array([...buf, ...chunk.subarray(0, n)]);
        for (let msg = readTlv(buf, 0); msg !== undefined; msg = readTlv(buf, 0)) {
          buf = buf.slice(msg.end);
          const [idTlv, op, controls] = children(msg.value);
          if (idTlv === undefined || op === undefined) return;
          const id = readInt(idTlv.value);
          if (op.tag === 0x42) return; // unbind
          if (stalled) continue;
          if (op.tag === 0x60) {
            if (script.bind === "close") return;
            if (script.bind === "stall") stalled = true;
            else await send(message(id, result(0x61)));
          } else if (op.tag === 0x77) {
            const oid = children(op.value)[0];
            extended.push(oid === undefined ? "" : decode(oid.value));
            await send(message(id, result(0x78)));
          } else if (op.tag === 0x63) {
            const request = parseSearch(op, controls);
            searches.push(request);
            const task = answerSearch(id, request).catch(() => {});
            tasks.add(task);
            void task.finally(() => tasks.delete(task));
          }
        }
      }
    } catch {
      // The client went away.
    } finally {
      await Promise.all(tasks);
      conns.delete(conn);
      close();
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) void serve(conn);
  })().catch(() => {});
  const close = async () => {
    try {
      listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await accepting;
    await Promise.all(tasks);
  };
  return { port: listener.addr.port, searches, extended, close, [Symbol.asyncDispose]: close };
}

/** One scripted page for {@link startFakeLdap}: the entries and the cookie sent with them. */
export interface FakePage {
  entries: FakeEntry[];
  /** The cookie of this page's answer; "" ends the search. */
  cookie: string;
}

/** A running {@link startFakeLdap} server. */
export interface FakeLdap extends AsyncDisposable {
  port: number;
  /** The cookies of the paged search requests received, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Starts a server whose every search walks `pages` by cookie (the first page answers cookie ""):
 * for the AD behaviour of a page that comes back with no entries but with a cookie to continue
 * (RFC 2696). A cookie past the script gets an empty last page.
 */
export function startFakeLdap(pages: FakePage[]): FakeLdap {
  const requests: string[] = [];
  const server = startFakeLdapServer({
    search({ cookie }) {
      requests.push(cookie);
      const index = cookie === "" ? 0 : Number(cookie.replace(/^p/, ""));
      const page = pages[index] ?? { entries: [], cookie: "" };
      return [...page.entries.map((entry) => ({ entry })), { done: { cookie: page.cookie } }];
    },
  });
  return {
    port: server.port,
    requests,
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** Page `i`'s cookie in a script made for {@link startFakeLdap}: `p<i>`. */
export const pageCookie = (index: number) => `p${index}`;
