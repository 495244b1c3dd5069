import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { MessageParser } from "ldapts";
import { defaultConfig } from "../../../src/config/schema.ts";
import { isNormalizedDn, normalizeDn } from "../../../src/ldap/dn.ts";
import { entryToGroup, ldapMappingSettings } from "../../../src/ldap/entry.ts";
import { DnTable, EntryAttributes, isCanonicalDn } from "../../../src/providers/ldap/decode.ts";
import {
  collectEntries,
  type RawEntry,
  setLeanDecoding,
  useLeanDecoder,
} from "../../../src/providers/ldap/ldapts.ts";
import { message, searchesInFlight } from "./_ber.ts";

const SAMPLES = [
  "uid=user000001,ou=people,dc=example,dc=com",
  "cn=group 2,ou=groups,dc=example,dc=com",
  "cn=a-b_c.d@e,dc=x",
  "x-1=y",
  "2.5.4.3=x,dc=x",
  "CN=Upper,dc=x",
  "cn=Upper,dc=x",
  "uid=a, dc=x",
  "uid=a ,dc=x",
  "uid= a,dc=x",
  "uid=a,dc=x ",
  " uid=a,dc=x",
  "uid=a+cn=b,dc=x",
  "uid=a\\,b,dc=x",
  'cn="q",dc=x',
  "cn=#04,dc=x",
  "cn=a;b,dc=x",
  "cn=<a>,dc=x",
  "cn=a=b,dc=x",
  "cn=zoë,dc=x",
  "cn=tab\there,dc=x",
  "cn=,dc=x",
  "uid=a,,dc=x",
  "uid=a,dc=x,",
  "uid=a",
  "uid",
  "=a",
  "",
  "user000001",
  "uid=user000001,ou=people,dc=example,dc=com#'0101'B",
];

Deno.test("isCanonicalDn() on the bytes agrees with isNormalizedDn() on the text", () => {
  const expected = SAMPLES.map(isNormalizedDn);
  const bytes = SAMPLES.map((dn) => {
    // In the middle of a larger buffer, as in a message.
    const buffer = Buffer.from(`xx${dn}yy`);
    return isCanonicalDn(buffer, 2, buffer.length - 2);
  });
  assert.deepEqual(bytes, expected);
  // The samples hold both answers, and true means the DN is its own normalised form.
  assert.ok(expected.includes(true) && expected.includes(false));
  for (const dn of SAMPLES.filter(isNormalizedDn)) assert.equal(normalizeDn(dn), dn);
});

Deno.test("DnTable gives one string per DN, and firstTime() tells repeats within a stamp", () => {
  const table = new DnTable();
  const names = Array.from({ length: 10_000 }, (_, i) => `uid=user${i},ou=people,dc=x`);
  const buffer = Buffer.from(names.join(""));
  const spans: [number, number][] = [];
  let at = 0;
  for (const name of names) {
    spans.push([at, at + name.length]);
    at += name.length;
  }
  // Enough DNs for the table to grow several times, each found again afterwards.
  assert.deepEqual(spans.map(([s, e]) => table.lookup(buffer, s, e)), names);
  assert.deepEqual(spans.map(([s, e]) => table.lookup(buffer, s, e)), names);
  assert.equal(table.size, 10_000);
  const [first, second] = spans;
  assert.ok(first !== undefined && second !== undefined);
  table.nextStamp();
  assert.equal(table.firstTime(buffer, ...first), names[0]);
  assert.equal(table.firstTime(buffer, ...second), names[1]);
  assert.equal(table.firstTime(buffer, ...first), undefined);
  table.nextStamp();
  assert.equal(table.firstTime(buffer, ...first), names[0]);
  assert.equal(table.size, 10_000);
});

/** The entries of `stream`, decoded with DNs interned in `table` and `member` as DN values. */
function decode(stream: Buffer, table: DnTable, attribute = "member"): RawEntry[] {
  const parser = new MessageParser();
  useLeanDecoder(parser);
  parser.on("error", (error) => {
    throw error;
  });
  const collector = collectEntries(parser, ["cn", "member"], {
    dns: { table, attribute },
  });
  const details = searchesInFlight(3);
  for (let at = 0; at < stream.length; at += 7) parser.read(stream.subarray(at, at + 7), details);
  return collector.close();
}

/** An entry with its values as text or `{ bytes }` (ldapts gives `Buffer`s, roster copies). */
function plain(entry: RawEntry): unknown {
  return [
    entry.dn,
    [...entry.attributes].map(([name, values]) => [
      name,
      values.map((v) => typeof v === "string" ? v : { bytes: [...v] }),
    ]),
  ];
}

const A = "uid=a,ou=people,dc=x";
const B = "uid=b,ou=people,dc=x";
const NOT_UTF8 = Uint8Array.of(0x75, 0x69, 0x64, 0x3d, 0xff);
const GROUPS: [string, [string, (string | Uint8Array)[]][]][] = [
  ["cn=repeats,dc=x", [["cn", ["repeats"]], ["member", [A, B, A, "cn=repeats,dc=x", B]]]],
  ["cn=mixed,dc=x", [["cn", ["mixed"]], ["member", [A, "UID=B,ou=people,dc=x", B]]]],
  ["cn=uids,dc=x", [["cn", ["uids"]], ["member", ["a", "b", "a"]]]],
  ["cn=twice,dc=x", [["cn", ["twice"]], ["member", [A]], ["Member", [B, A]]]],
  ["cn=none,dc=x", [["cn", ["none"]]]],
  ["cn=empty,dc=x", [["cn", ["empty"]], ["member", []]]],
  ["CN=Upper,DC=x", [["cn", ["upper"]], ["MEMBER", [B, A]]]],
  ["cn=bytes,dc=x", [["cn", ["bytes"]], ["member", [A, NOT_UTF8]]]],
];

Deno.test("decoded member DNs are the member references entryToGroup computes, when all are canonical", () => {
  const stream = Buffer.concat(GROUPS.map(([dn, attributes]) => message(3, dn, attributes)));
  const table = new DnTable();
  const entries = decode(stream, table);
  // The canonical DNs went into the table (seven entry DNs, A and B), found again by their
  // bytes: the decoder's hash is the table's own.
  assert.equal(table.size, 9);
  for (const dn of [A, B, "cn=repeats,dc=x", "cn=none,dc=x"]) {
    assert.equal(table.lookup(Buffer.from(dn), 0, dn.length), dn);
  }
  assert.equal(table.size, 9);
  assert.deepEqual(entries.map((e) => [e.dn, e.memberDns]), [
    ["cn=repeats,dc=x", [A, B, "cn=repeats,dc=x"]],
    ["cn=mixed,dc=x", undefined],
    ["cn=uids,dc=x", undefined],
    ["cn=twice,dc=x", undefined],
    ["cn=none,dc=x", []],
    ["cn=empty,dc=x", []],
    ["CN=Upper,DC=x", [B, A]],
    ["cn=bytes,dc=x", undefined],
  ]);
  const settings = ldapMappingSettings(defaultConfig().sync, { ad: false });
  // The last one's member value is not UTF-8, which the mapping refuses.
  for (const entry of entries.slice(0, -1)) {
    const mapped = entryToGroup(entry, settings);
    assert.ok("memberRefs" in mapped);
    if (entry.memberDns !== undefined) assert.deepEqual(entry.memberDns, mapped.memberRefs);
  }
  // The values themselves are as sent, as ldapts gives them.
  assert.deepEqual(entries[0]?.attributes.get("member"), [A, B, A, "cn=repeats,dc=x", B]);
  assert.deepEqual(entries[3]?.attributes.get("member"), [A, B, A]);
  assert.deepEqual(
    entries[7]?.attributes.get("member"),
    [Buffer.from(A), NOT_UTF8].map((b) => [
      ...b,
    ]).map((b) => Uint8Array.from(b)),
  );
  setLeanDecoding(false);
  try {
    const ldapts = decode(stream, new DnTable());
    assert.deepEqual(ldapts.map((e) => e.memberDns), GROUPS.map(() => undefined));
    assert.deepEqual(ldapts.map(plain), entries.map(plain));
  } finally {
    setLeanDecoding(true);
  }
});

Deno.test("values of a binary DN attribute are left to the mapping, one by one", () => {
  const stream = message(3, "cn=g,dc=x", [["cn", ["g"]], ["member;binary", [A, B]]]);
  const [entry] = decode(stream, new DnTable(), "member;binary");
  assert.equal(entry?.memberDns, undefined);
  assert.deepEqual(
    entry?.attributes.get("member;binary"),
    [A, B].map((v) => Uint8Array.from(Buffer.from(v))),
  );
});

Deno.test("EntryAttributes.withEmpty() leaves one attribute's values out and keeps the rest", () => {
  const attributes = new EntryAttributes(["cn", "member"], [["g"], [A, B]]);
  const without = attributes.withEmpty("member");
  assert.deepEqual([...without], [["cn", ["g"]], ["member", []]]);
  assert.deepEqual([...attributes], [["cn", ["g"]], ["member", [A, B]]]);
  assert.equal(attributes.withEmpty("missing"), attributes);
});
