import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BerWriter, type Client, MessageParser, SearchEntry } from "ldapts";
import type { LdapEntry } from "../../../src/ldap/entry.ts";
import { berElementLength, decodeAttributes } from "../../../src/providers/ldap/decode.ts";
import {
  collectEntries,
  newClient,
  searchOnce,
  type SearchRequest,
  setLeanDecoding,
  useLeanDecoder,
} from "../../../src/providers/ldap/ldapts.ts";
import { message, searchesInFlight, type Value } from "./_ber.ts";
import { startSlapd } from "./_slapd.ts";

/** The BER of a SearchResultEntry message with `count` member values. */
function searchEntry(messageId: number, dn: string, count: number): Buffer {
  const members = Array.from(
    { length: count },
    (_, i) => `uid=user${i},ou=people,dc=example,dc=com`,
  );
  return message(messageId, dn, [["member", members]]);
}

/** The entries roster collects from `stream` read in chunks of `chunkSize` bytes. */
function parseInChunks(stream: Buffer, chunkSize: number, requested: string[] = []): LdapEntry[] {
  const parser = new MessageParser();
  useLeanDecoder(parser);
  parser.on("error", (error) => {
    throw error;
  });
  const collector = collectEntries(parser, requested);
  const details = searchesInFlight(1, 3, 4, 5, 7);
  for (let offset = 0; offset < stream.length; offset += chunkSize) {
    parser.read(stream.subarray(offset, offset + chunkSize), details);
  }
  return collector.close();
}

Deno.test("berElementLength() reads short and long BER lengths, and waits for the header", () => {
  assert.equal(berElementLength(Uint8Array.of(0x30, 0x05)), 7);
  assert.equal(berElementLength(Uint8Array.of(0x30, 0x82, 0x01, 0x00)), 4 + 256);
  assert.equal(berElementLength(Uint8Array.of(0x30, 0x84, 0x00, 0x01, 0x00, 0x00)), 6 + 65536);
  assert.equal(berElementLength(Uint8Array.of(0x30)), undefined);
  assert.equal(berElementLength(Uint8Array.of(0x30, 0x82, 0x01)), undefined);
  assert.equal(berElementLength(Uint8Array.of(0x30, 0x80)), undefined, "indefinite length");
});

Deno.test("ldapts MessageParser reassembles messages spanning many chunks, whatever the split", () => {
  const big = searchEntry(7, "cn=everyone,ou=groups,dc=example,dc=com", 20_000);
  const small = searchEntry(7, "cn=small,ou=groups,dc=example,dc=com", 3);
  const stream = Buffer.concat([small, big, small, big]);
  for (const chunkSize of [1, 7, 1000, 65536, stream.length]) {
    if (chunkSize === 1 && stream.length > 100_000) {
      // byte by byte through the small messages only (the big ones would take long)
      const messages = parseInChunks(Buffer.concat([small, small]), 1);
      assert.deepEqual(messages.map((m) => m.dn), [
        "cn=small,ou=groups,dc=example,dc=com",
        "cn=small,ou=groups,dc=example,dc=com",
      ]);
      continue;
    }
    const messages = parseInChunks(stream, chunkSize);
    assert.deepEqual(
      messages.map((m) => [m.dn, m.attributes.get("member")?.length]),
      [
        ["cn=small,ou=groups,dc=example,dc=com", 3],
        ["cn=everyone,ou=groups,dc=example,dc=com", 20_000],
        ["cn=small,ou=groups,dc=example,dc=com", 3],
        ["cn=everyone,ou=groups,dc=example,dc=com", 20_000],
      ],
      `chunks of ${chunkSize} bytes`,
    );
    assert.equal(
      messages[1]?.attributes.get("member")?.[19_999],
      "uid=user19999,ou=people,dc=example,dc=com",
    );
  }
});

/** The BER of a SearchResultDone message with result code `status`. */
function done(messageId: number, status = 0): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeInt(messageId);
  w.startSequence(0x65);
  w.writeEnumeration(status);
  w.writeString("");
  w.writeString("");
  w.endSequence();
  w.endSequence();
  return w.buffer;
}

/** An entry with its values as text or `{ bytes }`, the attributes in order, for comparing. */
function plain(entry: LdapEntry): unknown {
  return {
    dn: entry.dn,
    attributes: [...entry.attributes].map(([name, values]) => [
      name,
      values.map((v) => typeof v === "string" ? v : { bytes: [...v] }),
    ]),
  };
}

/** The entries of `stream` decoded by the lean decoder and by ldapts' own decoding. */
function bothWays(stream: Buffer, chunkSize: number, requested: string[]) {
  const lean = parseInChunks(stream, chunkSize, requested);
  setLeanDecoding(false);
  try {
    return { lean, ldapts: parseInChunks(stream, chunkSize, requested) };
  } finally {
    setLeanDecoding(true);
  }
}

const GUID = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
const SID = Uint8Array.of(1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0xc3, 0x0b);
const NOT_UTF8 = Uint8Array.of(0x66, 0xff, 0x6f);

Deno.test("the lean decoder gives what ldapts' own decoding gives, for every kind of value", () => {
  const stream = Buffer.concat([
    message(3, "uid=zoë,ou=people,dc=example,dc=com", [
      ["objectClass", ["top", "person", "inetOrgPerson"]],
      ["cn", ["Zoë Ünïcödé 漢字 😀"]],
      ["mail", ["zoe@example.com", "z@example.org"]],
      ["Mail", ["third@example.net"]],
      ["description", ["", "x".repeat(300), "y".repeat(70_000)]],
      ["objectGUID", [GUID]],
      ["objectSid", [SID]],
      ["userCertificate;binary", [GUID, new Uint8Array(0)]],
      ["audio", ["fine", NOT_UTF8]],
      ["jpegPhoto", [Uint8Array.of(0xff, 0xd8, 0xff, 0xe0)]],
      ["seeAlso", []],
      ["member;range=0-1", ["uid=a,dc=x", "uid=b,dc=x"]],
    ]),
    message(4, "cn=empty,dc=example,dc=com", []),
    message(5, "", [["cn", ["no DN"]]]),
  ]);
  const requested = ["cn", "Mail", "objectGUID", "missingAttribute", "CN"];
  for (const chunkSize of [1, 100, 4096, stream.length]) {
    const { lean, ldapts } = bothWays(stream, chunkSize, requested);
    assert.equal(lean.length, 3);
    assert.deepEqual(lean.map(plain), ldapts.map(plain), `chunks of ${chunkSize} bytes`);
    // Each side decoded them: ldapts gives Buffer views of the message, roster copies.
    const guid = (entries: LdapEntry[]) => entries[0]?.attributes.get("objectguid")?.[0];
    assert.ok(Buffer.isBuffer(guid(ldapts)) && !Buffer.isBuffer(guid(lean)));
  }
  const [zoe] = parseInChunks(stream, stream.length, requested);
  assert.deepEqual(zoe?.attributes.get("mail"), [
    "zoe@example.com",
    "z@example.org",
    "third@example.net",
  ]);
  assert.deepEqual(zoe?.attributes.get("audio"), [Uint8Array.of(0x66, 0x69, 0x6e, 0x65), NOT_UTF8]);
  assert.deepEqual(zoe?.attributes.get("objectguid"), [GUID]);
  assert.deepEqual(zoe?.attributes.get("missingattribute"), []);
  assert.equal(zoe?.attributes.get("description")?.[2], "y".repeat(70_000));
});

Deno.test("the lean decoder reads values that repeat or nearly repeat between entries", () => {
  // Short values are compared with the last entry's at the same position (decode.ts).
  const entries: [string, Value[]][][] = [
    [["objectClass", ["top", "person"]], ["uid", ["abc"]], ["sn", ["Zoë"]]],
    [["objectClass", ["top", "persoN"]], ["uid", ["abd"]], ["sn", ["Zoe"]]],
    [["objectClass", ["top", "person", "extra"]], ["uid", ["ab"]], ["sn", ["Zoe", ""]]],
    [["objectClass", ["top"]], ["uid", ["abc", "abc"]], ["sn", [NOT_UTF8, "Zoe"]]],
    [["OBJECTCLASS", ["top", "person"]], ["uid", ["x".repeat(40)]], ["sn", ["Zoe", "Zoe"]]],
    [["objectClass", ["top", "person"]], ["uid", ["x".repeat(40)]], ["sn", ["Zoe", "Zoë"]]],
  ];
  const stream = Buffer.concat(entries.map((attributes, i) => message(3, `cn=${i}`, attributes)));
  const { lean, ldapts } = bothWays(stream, stream.length, []);
  assert.equal(lean.length, entries.length);
  assert.deepEqual(lean.map(plain), ldapts.map(plain));
  assert.deepEqual(lean.map((e) => e.attributes.get("objectclass")), [
    ["top", "person"],
    ["top", "persoN"],
    ["top", "person", "extra"],
    ["top"],
    ["top", "person"],
    ["top", "person"],
  ]);
  assert.deepEqual(lean[3]?.attributes.get("sn"), [NOT_UTF8, Uint8Array.of(0x5a, 0x6f, 0x65)]);
});

Deno.test("collected entries keep the order sent when ldapts reads some of them", () => {
  // An entry with a control is left to ldapts; the others are decoded by roster.
  const stream = Buffer.concat([
    message(3, "cn=a,dc=x", [["cn", ["a"]]]),
    message(3, "cn=b,dc=x", [["cn", ["b"]]], "1.2.3.4"),
    message(3, "cn=c,dc=x", [["cn", ["c"]], ["objectGUID", [GUID]]]),
    done(3),
  ]);
  for (const chunkSize of [1, 5, 64, stream.length]) {
    const parser = new MessageParser();
    useLeanDecoder(parser);
    const seen: string[] = [];
    parser.on("message", (m) => seen.push(`${m.constructor.name} ${m.messageId}`));
    const collector = collectEntries(parser, ["cn"]);
    const details = searchesInFlight(3);
    for (let offset = 0; offset < stream.length; offset += chunkSize) {
      parser.read(stream.subarray(offset, offset + chunkSize), details);
    }
    const entries = collector.close();
    assert.deepEqual(entries.map((e) => [e.dn, e.attributes.get("cn")]), [
      ["cn=a,dc=x", ["a"]],
      ["cn=b,dc=x", ["b"]],
      ["cn=c,dc=x", ["c"]],
    ], `chunks of ${chunkSize} bytes`);
    assert.ok(!Buffer.isBuffer(entries[2]?.attributes.get("objectguid")?.[0]));
    assert.deepEqual(seen, ["SearchEntry 3", "SearchResponse 3"], `chunks of ${chunkSize} bytes`);
  }
});

Deno.test("entries of a message ID with no search in flight are left to ldapts", () => {
  const parser = new MessageParser();
  useLeanDecoder(parser);
  const seen: string[] = [];
  parser.on("message", (m) => seen.push(`${m.constructor.name} ${m.messageId}`));
  const collector = collectEntries(parser, []);
  const stream = Buffer.concat([
    message(8, "cn=stray,dc=x", [["cn", ["stray"]]]),
    message(0, "cn=zero,dc=x", [["cn", ["zero"]]]),
    message(3, "cn=a,dc=x", [["cn", ["a"]]]),
  ]);
  parser.read(stream, searchesInFlight(3));
  assert.deepEqual(collector.close().map((e) => e.dn), ["cn=a,dc=x"]);
  assert.deepEqual(seen, ["SearchEntry 8", "SearchEntry 0"]);
});

Deno.test("collectEntries() refuses a second search on the same connection while one runs", () => {
  const parser = new MessageParser();
  useLeanDecoder(parser);
  const first = collectEntries(parser, []);
  assert.throws(() => collectEntries(parser, []), {
    message: "An LDAP search is already running on this connection",
  });
  first.close();
  assert.deepEqual(collectEntries(parser, []).close(), []);
});

Deno.test("a message header roster does not frame is left to ldapts, which reports it", () => {
  const errorsOf = (lean: boolean) => {
    const parser = new MessageParser();
    if (lean) useLeanDecoder(parser);
    const events: string[] = [];
    parser.on("error", (error) => events.push(`error: ${error.message}`));
    parser.on("message", (m) => events.push(`${m.constructor.name} ${m.messageId}`));
    // An indefinite length, then a length of 5 bytes.
    parser.read(Buffer.from([0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00]), searchesInFlight(1));
    const other = new MessageParser();
    if (lean) useLeanDecoder(other);
    other.on("error", (error) => events.push(`error: ${error.message}`));
    other.read(Buffer.from([0x30, 0x85, 0, 0, 0, 0, 1, 0]), searchesInFlight(1));
    return events;
  };
  assert.deepEqual(errorsOf(true), errorsOf(false));
  assert.deepEqual(errorsOf(true), [
    "error: Indefinite length not supported",
    "error: Encoding too long",
  ]);
});

Deno.test("the lean decoder copies bytes out of the message instead of keeping a view of it", () => {
  const stream = message(1, "cn=x", [["objectGUID", [GUID]]]);
  const value = parseInChunks(stream, stream.length)[0]?.attributes.get("objectguid")?.[0];
  assert.ok(value instanceof Uint8Array);
  assert.equal(value.byteLength, 16);
  assert.equal(value.buffer.byteLength, 16);
});

Deno.test("decodeAttributes() returns undefined for a malformed attribute list", () => {
  const good = message(1, "cn=x", [["cn", ["a", "b"]]]);
  // The attribute list of `good`: after 30 len 02 01 01 64 len 04 04 "cn=x".
  const list = good.subarray(good.indexOf(0x30, 2 + 3 + 2 + 6));
  const listStart = 2;
  const decoded = decodeAttributes(list, { start: listStart, end: list.length });
  assert.deepEqual([...decoded ?? []], [["cn", ["a", "b"]]]);
  const wrongTag = Buffer.from(list);
  wrongTag[listStart] = 0x31;
  assert.equal(decodeAttributes(wrongTag, { start: listStart, end: list.length }), undefined);
  assert.equal(decodeAttributes(list, { start: listStart, end: list.length - 1 }), undefined);
  const valueTag = Buffer.from(list);
  valueTag[valueTag.lastIndexOf(0x04)] = 0x02; // the value "b" as an INTEGER
  assert.equal(decodeAttributes(valueTag, { start: listStart, end: list.length }), undefined);
});

Deno.test("a SearchResultEntry ldapts rejects is rejected with ldapts' own error", () => {
  const good = message(9, "cn=x", [["cn", ["a", "b"]]]);
  const bad = Buffer.from(good);
  bad[bad.lastIndexOf(0x04)] = 0x02;
  const errorOf = () => {
    const parser = new MessageParser();
    useLeanDecoder(parser);
    const errors: string[] = [];
    parser.on("error", (error) => errors.push(error.message));
    parser.on("message", () => errors.push("a message"));
    const collector = collectEntries(parser, []);
    parser.read(bad, searchesInFlight(9));
    assert.deepEqual(collector.close(), []);
    return errors;
  };
  const lean = errorOf();
  setLeanDecoding(false);
  try {
    assert.deepEqual(lean, errorOf());
  } finally {
    setLeanDecoding(true);
  }
  assert.deepEqual(lean, ["Expected 0x4: got 0x2"]);
});

const TESTDATA = fileURLToPath(new URL("./testdata/", import.meta.url));
const PHOTO = Uint8Array.from({ length: 600 }, (_, i) => (i * 7) % 256);

/** An LDIF line for an attribute value, base64 when it is not plain ASCII. */
function line(type: string, value: string | Uint8Array): string {
  if (typeof value === "string" && /^[\x20-\x7e]*$/.test(value) && !value.startsWith(" ")) {
    return `${type}: ${value}`;
  }
  return `${type}:: ${Buffer.from(value).toString("base64")}`;
}

/** Entries with every kind of value the decoder meets, under ou=decoding. */
function decodingLdif(base: string): string {
  const ou = `ou=decoding,${base}`;
  const records: string[][] = [
    [line("dn", ou), "objectClass: organizationalUnit", "ou: decoding"],
    [
      line("dn", `cn=Zoë Ünïcödé 漢字,${ou}`),
      "objectClass: inetOrgPerson",
      line("cn", "Zoë Ünïcödé 漢字"),
      line("cn", "Zoe"),
      "sn: Ünïcödé",
      "mail: zoe@example.com",
      "mail: Zoe.Other@example.org",
      line("description", "d".repeat(300)),
      line("postalAddress", "p".repeat(70_000)),
      line("jpegPhoto", PHOTO),
      line("audio", Uint8Array.of(0x66, 0xff, 0x6f)),
      line("displayName", "😀 emoji"),
    ],
    [
      line("dn", `cn=everyone,${ou}`),
      "objectClass: groupOfNames",
      "cn: everyone",
      ...Array.from({ length: 3000 }, (_, i) => `member: uid=user${i},ou=people,${base}`),
    ],
  ];
  return records.map((r) => r.join("\n")).join("\n\n") + "\n";
}

/** Every entry of a search, page by page when `pageSize` is given. */
async function searchAll(client: Client, request: SearchRequest, pageSize?: number) {
  if (pageSize === undefined) return (await searchOnce(client, request)).entries;
  const entries: LdapEntry[] = [];
  let cookie: Uint8Array = new Uint8Array(0);
  for (;;) {
    const answer = await searchOnce(client, { ...request, page: { size: pageSize, cookie } });
    entries.push(...answer.entries);
    if (answer.cookie === undefined || answer.cookie.length === 0) return entries;
    cookie = answer.cookie;
  }
}

Deno.test("the lean decoder reads what ldapts' own decoding reads from a real slapd", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roster-decoding-" });
  try {
    const file = join(dir, "decoding.ldif");
    await Deno.writeTextFile(file, decodingLdif("dc=example,dc=com"));
    await using slapd = await startSlapd({
      ldif: [join(TESTDATA, "staff.ldif"), join(TESTDATA, "syntaxes.ldif"), file],
    });
    const client = newClient({
      url: `ldap://${slapd.host}:${slapd.port}`,
      host: slapd.host,
      port: slapd.port,
      mode: "plain",
      tls: undefined,
      caSetting: "directory.ldap.ca",
      username: slapd.adminDn,
      password: slapd.adminPassword,
      timeoutMs: 30_000,
      connectTimeoutMs: 5_000,
      timeLimit: 30,
    });
    await client.bind(slapd.adminDn, slapd.adminPassword);
    try {
      const requests: [string, string[]][] = [
        ["all user attributes", []],
        ["user and operational attributes", ["*", "+"]],
        ["named attributes, one missing, one in other case", [
          "cn",
          "MAIL",
          "jpegPhoto",
          "audio",
          "member",
          "postalAddress",
          "objectGUID",
          "notThere",
        ]],
        ["no attributes", ["1.1"]],
      ];
      let checked = 0;
      for (const [what, attributes] of requests) {
        for (const pageSize of [undefined, 2, 500]) {
          const request = {
            base: slapd.baseDn,
            filter: "(objectClass=*)",
            attributes,
            timeLimit: 30,
          };
          const lean = await searchAll(client, request, pageSize);
          setLeanDecoding(false);
          let ldapts: LdapEntry[];
          try {
            ldapts = await searchAll(client, request, pageSize);
          } finally {
            setLeanDecoding(true);
          }
          assert.ok(lean.length > 20, what);
          assert.deepEqual(lean.map(plain), ldapts.map(plain), `${what}, pages of ${pageSize}`);
          checked += lean.length;
        }
      }
      assert.ok(checked > 200);
      const [zoe] = await searchAll(client, {
        base: `ou=decoding,${slapd.baseDn}`,
        filter: "(sn=Ünïcödé)",
        attributes: ["cn", "jpegPhoto", "audio", "postalAddress", "mail"],
        timeLimit: 30,
      });
      assert.equal(zoe?.dn, "cn=Zoë Ünïcödé 漢字,ou=decoding,dc=example,dc=com");
      // The lean decoder made it (ldapts gives Buffer views of the message).
      assert.ok(!Buffer.isBuffer(zoe?.attributes.get("jpegphoto")?.[0]));
      assert.deepEqual(zoe?.attributes.get("cn"), ["Zoë Ünïcödé 漢字", "Zoe"]);
      assert.deepEqual(zoe?.attributes.get("jpegphoto"), [PHOTO]);
      assert.deepEqual(zoe?.attributes.get("audio"), [Uint8Array.of(0x66, 0xff, 0x6f)]);
      assert.equal(zoe?.attributes.get("postaladdress")?.[0], "p".repeat(70_000));
      const [everyone] = await searchAll(client, {
        base: `cn=everyone,ou=decoding,${slapd.baseDn}`,
        scope: "base",
        filter: "(objectClass=*)",
        attributes: ["member"],
        timeLimit: 30,
      });
      assert.equal(everyone?.attributes.get("member")?.length, 3000);
      assert.equal(
        everyone?.attributes.get("member")?.[2999],
        "uid=user2999,ou=people,dc=example,dc=com",
      );
    } finally {
      await client.unbind();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the lean decoder leaves ldapts parsers that roster did not make to ldapts' decoding", () => {
  const parser = new MessageParser();
  const objects: Record<string, unknown>[] = [];
  parser.on("message", (message) => {
    if (message instanceof SearchEntry) objects.push({ ...message.toObject(["member"], []) });
  });
  parser.read(searchEntry(1, "cn=g,dc=x", 2), new Map());
  assert.deepEqual(objects, [{
    dn: "cn=g,dc=x",
    member: ["uid=user0,ou=people,dc=example,dc=com", "uid=user1,ou=people,dc=example,dc=com"],
  }]);
});
