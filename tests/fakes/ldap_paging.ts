/**
 * A tiny fake LDAP server that answers a paged search (RFC 2696) from a script of pages, for the
 * one AD behaviour a real test server does not reproduce on demand: a page that comes back with
 * no entries but with a cookie to continue. It speaks just enough BER for a simple bind, a
 * search with the paged-results control, and unbind; every search gets the scripted pages.
 *
 * Listens on 127.0.0.1, port 0.
 * @module
 */

const PAGED_OID = "1.2.840.113556.1.4.319";

/** One scripted page: the entries (DN + text attributes) and the cookie sent with them. */
export interface FakePage {
  entries: { dn: string; attributes: Record<string, string[]> }[];
  /** The cookie of this page's answer; "" ends the search. */
  cookie: string;
}

/** A running fake server. */
export interface FakeLdap extends AsyncDisposable {
  port: number;
  /** The cookies of the paged search requests received, in order. */
  requests: string[];
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
  /** Offset just past this element. */
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

function readInt(value: Uint8Array): number {
  let n = 0;
  for (const b of value) n = (n << 8) | b;
  return n;
}

// --- messages ----------------------------------------------------------------------------------

const message = (id: number, op: Uint8Array, controls?: Uint8Array) =>
  tlv(0x30, cat(int(0x02, id), op, ...(controls === undefined ? [] : [controls])));

const result = (tag: number) => tlv(tag, cat(int(0x0a, 0), text(0x04, ""), text(0x04, "")));

function entry(dn: string, attributes: Record<string, string[]>): Uint8Array {
  const list = Object.entries(attributes).map(([type, values]) =>
    tlv(0x30, cat(text(0x04, type), tlv(0x31, cat(...values.map((v) => text(0x04, v))))))
  );
  return tlv(0x64, cat(text(0x04, dn), tlv(0x30, cat(...list))));
}

function pagedControl(cookie: string): Uint8Array {
  const value = tlv(0x30, cat(int(0x02, 0), text(0x04, cookie)));
  return tlv(0xa0, tlv(0x30, cat(text(0x04, PAGED_OID), tlv(0x04, value))));
}

/** The cookie of the paged-results control among a request's controls ("" when none). */
function requestCookie(controls: Tlv | undefined): string {
  if (controls === undefined) return "";
  for (const control of children(controls.value)) {
    const [oid, ...rest] = children(control.value);
    if (oid === undefined || new TextDecoder().decode(oid.value) !== PAGED_OID) continue;
    const value = rest.find((t) => t.tag === 0x04);
    if (value === undefined) return "";
    const seq = children(value.value)[0];
    const cookie = seq === undefined ? undefined : children(seq.value)[1];
    return cookie === undefined ? "" : new TextDecoder().decode(cookie.value);
  }
  return "";
}

/** Starts the server; every paged search walks `pages` by cookie (the first has cookie ""). */
export function startFakeLdap(pages: FakePage[]): FakeLdap {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: string[] = [];
  const conns = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
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
          if (op.tag === 0x60) {
            await conn.write(message(id, result(0x61)));
          } else if (op.tag === 0x63) {
            const cookie = requestCookie(controls);
            requests.push(cookie);
            const index = cookie === "" ? 0 : Number(cookie.replace(/^p/, ""));
            const page = pages[index] ?? { entries: [], cookie: "" };
            const out = page.entries.map((e) => message(id, entry(e.dn, e.attributes)));
            out.push(message(id, result(0x65), pagedControl(page.cookie)));
            await conn.write(new Uint8Array(out.flatMap((m) => [...m])));
          }
        }
      }
    } catch {
      // The client went away.
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
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
  };
  return {
    port: listener.addr.port,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Page `i`'s cookie in a script made for {@link startFakeLdap}: `p<i>`. */
export const pageCookie = (index: number) => `p${index}`;
