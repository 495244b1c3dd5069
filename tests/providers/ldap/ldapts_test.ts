import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Attribute, BerReader, BerWriter, MessageParser, SearchEntry } from "ldapts";
import { berElementLength } from "../../../src/providers/ldap/ldapts.ts";

/** The BER of a SearchResultEntry message with `count` member values. */
function searchEntry(messageId: number, dn: string, count: number): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeInt(messageId);
  w.startSequence(0x64);
  w.writeString(dn);
  w.startSequence();
  w.startSequence();
  w.writeString("member");
  w.startSequence(0x31);
  for (let i = 0; i < count; i++) w.writeString(`uid=user${i},ou=people,dc=example,dc=com`);
  w.endSequence();
  w.endSequence();
  w.endSequence();
  w.endSequence();
  w.endSequence();
  return w.buffer;
}

function parseInChunks(stream: Buffer, chunkSize: number): SearchEntry[] {
  const parser = new MessageParser();
  const messages: SearchEntry[] = [];
  parser.on("message", (message) => {
    if (message instanceof SearchEntry) messages.push(message);
  });
  parser.on("error", (error) => {
    throw error;
  });
  for (let offset = 0; offset < stream.length; offset += chunkSize) {
    parser.read(stream.subarray(offset, offset + chunkSize), new Map());
  }
  return messages;
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
      assert.deepEqual(messages.map((m) => m.name), [
        "cn=small,ou=groups,dc=example,dc=com",
        "cn=small,ou=groups,dc=example,dc=com",
      ]);
      continue;
    }
    const messages = parseInChunks(stream, chunkSize);
    assert.deepEqual(
      messages.map((m) => [m.name, m.attributes[0]?.values.length]),
      [
        ["cn=small,ou=groups,dc=example,dc=com", 3],
        ["cn=everyone,ou=groups,dc=example,dc=com", 20_000],
        ["cn=small,ou=groups,dc=example,dc=com", 3],
        ["cn=everyone,ou=groups,dc=example,dc=com", 20_000],
      ],
      `chunks of ${chunkSize} bytes`,
    );
    assert.equal(
      messages[1]?.attributes[0]?.values[19_999],
      "uid=user19999,ou=people,dc=example,dc=com",
    );
  }
});

/** The BER of one PartialAttribute: `type` and a SET of OCTET STRING values. */
function attribute(type: string, values: (string | Uint8Array)[]): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeString(type);
  w.startSequence(0x31);
  for (const value of values) {
    if (typeof value === "string") w.writeString(value);
    else w.writeBuffer(Buffer.from(value), 0x04);
  }
  w.endSequence();
  w.endSequence();
  return w.buffer;
}

function parsed(type: string, values: (string | Uint8Array)[]): Attribute {
  const result = new Attribute();
  result.parse(new BerReader(attribute(type, values)));
  return result;
}

Deno.test("Attribute.parse decodes ASCII and UTF-8 values as text, without keeping buffers", () => {
  const a = parsed("cn", ["Ann Lee", "", "Zoë Ünïcödé 漢字", "x".repeat(300)]);
  assert.equal(a.type, "cn");
  assert.deepEqual(a.values, ["Ann Lee", "", "Zoë Ünïcödé 漢字", "x".repeat(300)]);
});

Deno.test("Attribute.parse keeps bytes for objectGUID, objectSid and ;binary attributes", () => {
  const guid = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  for (const type of ["objectGUID", "objectguid", "objectSid", "userCertificate;binary"]) {
    const a = parsed(type, [guid]);
    assert.deepEqual(a.values.map((v) => typeof v === "string" ? v : [...v]), [[...guid]], type);
    assert.deepEqual(a.parsedBuffers.map((b) => [...b]), [[...guid]], type);
  }
});

Deno.test("Attribute.parse gives every value as bytes when one is not UTF-8, as ldapts does", () => {
  const bad = Uint8Array.of(0x66, 0xff, 0x6f);
  const a = parsed("description", ["fine", bad]);
  assert.deepEqual(a.values.map((v) => typeof v === "string" ? v : [...v]), [
    [0x66, 0x69, 0x6e, 0x65],
    [0x66, 0xff, 0x6f],
  ]);
  const entry = new SearchEntry({ messageId: 1, name: "cn=x", attributes: [a] });
  const object = entry.toObject([], []);
  assert.ok(Array.isArray(object["description"]));
});

Deno.test("SearchEntry.toObject gives the same shapes: single values, lists, explicit buffers", () => {
  const guid = Uint8Array.from({ length: 16 }, (_, i) => 255 - i);
  const entry = new SearchEntry({
    messageId: 1,
    name: "uid=ann,dc=x",
    attributes: [
      parsed("mail", ["ann@example.com"]),
      parsed("objectClass", ["top", "person"]),
      parsed("objectGUID", [guid]),
    ],
  });
  const object = entry.toObject(["mail", "uid"], ["objectGUID"]);
  assert.equal(object["dn"], "uid=ann,dc=x");
  assert.equal(object["mail"], "ann@example.com");
  assert.deepEqual(object["objectClass"], ["top", "person"]);
  assert.deepEqual(object["uid"], []);
  const bytes = object["objectGUID"];
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual([...bytes], [...guid]);
});
