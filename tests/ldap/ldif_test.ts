import assert from "node:assert/strict";
import { DirectoryDataError, SourceIncompleteError } from "../../src/errors.ts";
import { DnSyntaxError, normalizeDn } from "../../src/ldap/dn.ts";
import {
  type LdifEntry,
  readLdif,
  readLdifBatches,
  type ReadLdifOptions,
} from "../../src/ldap/ldif.ts";

/** A stream that delivers the text in chunks of `size` bytes, to cut lines and characters. */
function streamOf(text: string, size = 7): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

async function read(text: string, size?: number): Promise<LdifEntry[]> {
  const out: LdifEntry[] = [];
  for await (const e of readLdif(streamOf(text, size), { source: "test.ldif" })) out.push(e);
  return out;
}

function plain(
  e: LdifEntry,
): { dn: string; line: number; attrs: Record<string, readonly unknown[]> } {
  return { dn: e.dn, line: e.line, attrs: Object.fromEntries(e.attributes) };
}

async function rejects(text: string, message: string): Promise<void> {
  await assert.rejects(read(text), (e: unknown) => {
    assert.ok(e instanceof DirectoryDataError, String(e));
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("readLdif() reads records, version, comments and lowercases attribute names", async () => {
  const entries = await read(
    "# export\nversion: 1\ndn: dc=example,dc=com\nobjectClass: top\nobjectClass: domain\n\n" +
      "# a user\ndn: uid=jdoe,dc=example,dc=com\nUID: jdoe\nmail:jdoe@example.com\ncn;lang-de: J\n" +
      "description:\n",
  );
  assert.deepEqual(entries.map(plain), [
    { dn: "dc=example,dc=com", line: 3, attrs: { objectclass: ["top", "domain"] } },
    {
      dn: "uid=jdoe,dc=example,dc=com",
      line: 8,
      attrs: { uid: ["jdoe"], mail: ["jdoe@example.com"], "cn;lang-de": ["J"], description: [""] },
    },
  ]);
});

Deno.test("readLdif() unfolds continuation lines, including folded comments", async () => {
  const entries = await read(
    "dn: cn=A Very Long Name,ou=Eng\n ineering,dc=example,dc=com\n# a folded\n  comment\n" +
      "description: one\n  two\n",
  );
  assert.deepEqual(entries.map(plain), [{
    dn: "cn=A Very Long Name,ou=Engineering,dc=example,dc=com",
    line: 1,
    attrs: { description: ["one two"] },
  }]);
});

Deno.test("readLdif() handles CRLF line ends and multi-byte characters cut across chunks", async () => {
  for (const size of [1, 2, 3, 5, 64]) {
    const entries = await read("version: 1\r\n\r\ndn: cn=Müller,dc=x\r\ncn: Müller\r\n\r\n", size);
    assert.deepEqual(entries.map(plain), [
      { dn: "cn=Müller,dc=x", line: 3, attrs: { cn: ["Müller"] } },
    ]);
  }
});

Deno.test("readLdif() decodes base64 values: text as UTF-8, objectGUID and binary as bytes", async () => {
  const guid = btoa(String.fromCharCode(...Array.from({ length: 16 }, (_, k) => k)));
  const entries = await read(
    `dn:: ${btoa("cn=M\xc3\xbcller,dc=x")}\ncn:: ${btoa("M\xc3\xbcller")}\n` +
      `objectGUID:: ${guid}\nthumbnailPhoto:: ${btoa("\xff\xd8\xff")}\ndescription:: \n`,
  );
  assert.equal(entries.length, 1);
  const e = entries[0]!;
  assert.equal(e.dn, "cn=Müller,dc=x");
  assert.deepEqual(e.attributes.get("cn"), ["Müller"]);
  assert.deepEqual(
    e.attributes.get("objectguid"),
    [new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])],
  );
  assert.deepEqual(e.attributes.get("thumbnailphoto"), [new Uint8Array([0xff, 0xd8, 0xff])]);
  assert.deepEqual(e.attributes.get("description"), [""]);
});

Deno.test("readLdif() accepts an ldapsearch trailer with result 0", async () => {
  const entries = await read(
    "dn: cn=a,dc=x\ncn: a\n\n# search result\nsearch: 2\nresult: 0 Success\n\n# numResponses: 2\n",
  );
  assert.equal(entries.length, 1);
});

Deno.test("readLdif() refuses a truncated ldapsearch export", async () => {
  await assert.rejects(
    read("dn: cn=a,dc=x\ncn: a\n\nsearch: 2\nresult: 4 Size limit exceeded\n"),
    (e: unknown) => {
      assert.ok(e instanceof SourceIncompleteError);
      assert.equal(
        e.message,
        'LDIF export in test.ldif is incomplete: ldapsearch reported "result: 4 Size limit exceeded" at line 5',
      );
      return true;
    },
  );
});

Deno.test("readLdif() refuses change records and URL values, naming the line", async () => {
  await rejects(
    "dn: cn=a,dc=x\ncn: a\n\ndn: cn=b,dc=x\nchangetype: modify\nreplace: mail\nmail: b@x\n",
    "Unsupported LDIF in test.ldif at line 5: the record for cn=b,dc=x is a change record (changetype: modify)",
  );
  await rejects(
    "dn: cn=a,dc=x\njpegPhoto:< file:///tmp/a.jpg\n",
    "Unsupported LDIF in test.ldif at line 2: the value of jpegPhoto is read from a URL (file:///tmp/a.jpg)",
  );
});

Deno.test("readLdif() reports malformed LDIF with the line number", async () => {
  await rejects(
    "dn: cn=a,dc=x\ncn: a\nno colon here\n",
    'Invalid LDIF in test.ldif at line 3: expected "attribute: value" but found "no colon here"',
  );
  await rejects(
    "version: 1\n\ncn: a\n",
    'Invalid LDIF in test.ldif at line 3: a record must start with "dn:" but starts with "cn:"',
  );
  await rejects(
    "\n continued\n",
    "Invalid LDIF in test.ldif at line 2: a continuation line (starting with a space) follows no line",
  );
  await rejects(
    "dn: cn=a,dc=x\nmail:: not*base64\n",
    "Invalid LDIF in test.ldif at line 2: the base64 value of mail is not valid base64",
  );
  await rejects(
    "dn: cn=a,,dc=x\n",
    'Invalid LDIF in test.ldif at line 1: "cn=a,,dc=x" is not a valid DN: Expected an attribute type at character 6',
  );
  await rejects(
    "dn: cn=a,dc=x\ndn: cn=b,dc=x\n",
    'Invalid LDIF in test.ldif at line 2: a second "dn:" line inside the record for cn=a,dc=x',
  );
  await rejects("version: 2\n", 'Invalid LDIF in test.ldif at line 1: unknown LDIF version "2"');
  await rejects(
    "dn: cn=a,dc=x\nbad_name: 1\n",
    'Invalid LDIF in test.ldif at line 2: "bad_name" is not a valid attribute name',
  );
});

Deno.test("readLdif() yields entries while reading, and stops the source when abandoned", async () => {
  let pulls = 0;
  let cancelled = false;
  const record = new TextEncoder().encode("dn: cn=u,dc=x\ncn: u\n\n");
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(record);
    },
    cancel() {
      cancelled = true;
    },
  });
  let n = 0;
  for await (const _ of readLdif(stream)) {
    if (++n === 3) break;
  }
  assert.equal(n, 3);
  assert.ok(pulls < 10, `read ${pulls} chunks for 3 entries`);
  assert.equal(cancelled, true);
});

async function incomplete(text: string, message: string): Promise<void> {
  await assert.rejects(read(text), (e: unknown) => {
    assert.ok(e instanceof SourceIncompleteError, String(e));
    assert.equal(e.exitCode, 5);
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("readLdif() refuses a file cut inside a line, a continuation or a base64 value", async () => {
  await incomplete(
    "dn: cn=a,dc=x\ncn: a\n\ndn: cn=b,dc=x\nmail: b@exa",
    'LDIF export in test.ldif is incomplete: it ends in the middle of line 5 ("mail: b@exa"), ' +
      "without a line break",
  );
  await incomplete(
    "dn: cn=a,dc=x\ndescription: one\n two",
    'LDIF export in test.ldif is incomplete: it ends in the middle of line 3 (" two"), ' +
      "without a line break",
  );
  await incomplete(
    `dn: cn=a,dc=x\ncn:: ${btoa("Müller").slice(0, 5)}`,
    `LDIF export in test.ldif is incomplete: it ends in the middle of line 2 ("cn:: ${
      btoa("Müller").slice(0, 5)
    }"), without a line break`,
  );
});

Deno.test("readLdif() refuses a base64 value that lost its last characters", async () => {
  await rejects(
    `dn: cn=a,dc=x\ncn:: ${btoa("abcdef").slice(0, 6)}\n`,
    "Invalid LDIF in test.ldif at line 2: the base64 value of cn is not valid base64",
  );
});

Deno.test("readLdif() refuses an ldapsearch export without its result trailer or with fewer entries", async () => {
  await incomplete(
    "# extended LDIF\n#\n\ndn: cn=a,dc=x\ncn: a\n\n",
    'LDIF export in test.ldif is incomplete: it starts with ldapsearch\'s "# extended LDIF" ' +
      'header but has no "result:" trailer, so ldapsearch did not finish writing it',
  );
  await incomplete(
    "# extended LDIF\n\ndn: cn=a,dc=x\ncn: a\n\n# search result\nsearch: 2\nresult: 0 Success\n" +
      "\n# numResponses: 3\n# numEntries: 2\n",
    "LDIF export in test.ldif is incomplete: ldapsearch counted 2 entries (# numEntries) but " +
      "the file holds 1",
  );
  const whole = await read(
    "# extended LDIF\n\ndn: cn=a,dc=x\ncn: a\n\n# search result\nsearch: 2\nresult: 0 Success\n" +
      "\n# numResponses: 2\n# numEntries: 1\n",
  );
  assert.equal(whole.length, 1);
});

Deno.test("readLdif() refuses an export holding a continuation reference", async () => {
  await incomplete(
    "dn: cn=a,dc=x\ncn: a\n\n# search reference\nref: ldap://other/ou=b,dc=x??sub\n\n",
    "LDIF export in test.ldif is incomplete: line 5 is a continuation reference " +
      "(ref: ldap://other/ou=b,dc=x??sub), a part of the exported subtree held by another server",
  );
});

/** Text chunks, as `decodeText` yields them. */
async function* textChunks(...chunks: string[]): AsyncGenerator<string> {
  for (const chunk of chunks) yield chunk;
}

async function readBatches(chunks: string[], options: ReadLdifOptions): Promise<LdifEntry[][]> {
  const out: LdifEntry[][] = [];
  for await (const batch of readLdifBatches(textChunks(...chunks), options)) out.push(batch);
  return out;
}

Deno.test("readLdifBatches() yields the entries each chunk completes, lines cut across chunks", async () => {
  const batches = await readBatches(
    ["dn: cn=a,dc=x\ncn: a\n\ndn: cn=b,d", "c=x\ncn: b\n", "\ndn: cn=c,dc=x\n", "cn: c\n"],
    { source: "t.ldif" },
  );
  assert.deepEqual(batches.map((batch) => batch.map(plain)), [
    [{ dn: "cn=a,dc=x", line: 1, attrs: { cn: ["a"] } }],
    [{ dn: "cn=b,dc=x", line: 4, attrs: { cn: ["b"] } }],
    [{ dn: "cn=c,dc=x", line: 7, attrs: { cn: ["c"] } }],
  ]);
});

Deno.test("readLdifBatches() keeps only the attributes asked for, with their options", async () => {
  const [batch] = await readBatches([
    "dn: cn=A,dc=x\nobjectClass: person\nCN: A\ncn;lang-de: Ä\ndescription: d\n" +
    "member;range=0-0: cn=m,dc=x\nmember;range=1-*: cn=n,dc=x\nphoto:: /9j/\n",
  ], { source: "t.ldif", attributes: ["cn", "OBJECTCLASS", "member"] });
  assert.deepEqual(batch?.map(plain), [{
    dn: "cn=A,dc=x",
    line: 1,
    attrs: {
      objectclass: ["person"],
      cn: ["A"],
      "cn;lang-de": ["Ä"],
      member: ["cn=m,dc=x", "cn=n,dc=x"],
    },
  }]);
});

Deno.test("readLdifBatches() still checks the lines of attributes it does not keep", async () => {
  const options = { source: "t.ldif", attributes: ["cn"] };
  const cases: [string, string][] = [
    [
      "dn: cn=a\nphoto:: !!\n",
      "Invalid LDIF in t.ldif at line 2: the base64 value of photo is not valid base64",
    ],
    [
      "dn: cn=a\nbad_name: x\n",
      'Invalid LDIF in t.ldif at line 2: "bad_name" is not a valid attribute name',
    ],
    [
      "dn: cn=a\nchangetype: add\n",
      "Unsupported LDIF in t.ldif at line 2: the record for cn=a is a change record (changetype: add)",
    ],
    [
      "dn: cn=a\nphoto:< file:///x\n",
      "Unsupported LDIF in t.ldif at line 2: the value of photo is read from a URL (file:///x)",
    ],
  ];
  for (const [text, message] of cases) {
    await assert.rejects(readBatches([text], options), (e: unknown) => {
      assert.ok(e instanceof DirectoryDataError, String(e));
      assert.equal(e.message, message);
      return true;
    });
  }
});

Deno.test("readLdifBatches() gives each entry the key dnKey makes of its DN, and reports its DN errors", async () => {
  const batches = await readBatches(["dn: CN=A, DC=X\n\ndn: cn=b,dc=x\n"], {
    dnKey: (dn) => `key:${normalizeDn(dn)}`,
  });
  // the last record ends with the input, in a batch of its own
  assert.deepEqual(batches.map((batch) => batch.map((e) => e.key)), [
    ["key:cn=a,dc=x"],
    ["key:cn=b,dc=x"],
  ]);
  const [plainBatch] = await readBatches(["dn: cn=a\n"], {});
  assert.deepEqual(plainBatch?.map((e) => e.key), [undefined]);
  await assert.rejects(
    readBatches(["dn: cn=a\n\ndn: x\n"], {
      source: "t.ldif",
      dnKey: (dn) => {
        if (dn === "x") throw new DnSyntaxError('Expected "=" after "x"', 1);
        return dn;
      },
    }),
    (e: unknown) => {
      assert.ok(e instanceof DirectoryDataError, String(e));
      assert.equal(
        e.message,
        'Invalid LDIF in t.ldif at line 3: "x" is not a valid DN: Expected "=" after "x" at character 2',
      );
      return true;
    },
  );
});

Deno.test("readLdif() gives records listing the same object classes in order one shared array", async () => {
  const entries = await read(
    "dn: cn=a\nobjectClass: top\nobjectClass: person\n\n" +
      "dn: cn=b\nobjectClass: top\nobjectClass: person\n\n" +
      "dn: cn=c\nobjectClass: top\nobjectClass: group\n\n" +
      "dn: cn=d\nobjectClass: top\nobjectClass: group\nobjectClass: extra\n",
  );
  const classes = entries.map((e) => e.attributes.get("objectclass"));
  assert.deepEqual(classes, [
    ["top", "person"],
    ["top", "person"],
    ["top", "group"],
    ["top", "group", "extra"],
  ]);
  assert.equal(classes[0], classes[1]);
  assert.notEqual(classes[1], classes[2]);
  assert.notEqual(classes[2], classes[3]);
});

Deno.test("readLdifBatches() gives the same values and DN with views, the DN being the key when equal", async () => {
  const text =
    "dn: cn=group with a long name,dc=example,dc=com\nmember: uid=someone,dc=example,dc=com\n" +
    "member: UID=Other,DC=example,DC=com\n";
  const keys: string[] = [];
  const [batch] = await readBatches([text, "\n"], {
    views: ["MEMBER"],
    dnKey: (dn) => {
      const key = [dn.slice(0, 1), dn.slice(1)].join(""); // a copy, as RefPool.dn makes
      keys.push(key);
      return key;
    },
  });
  const entry = batch?.[0];
  assert.deepEqual(entry === undefined ? undefined : plain(entry), {
    dn: "cn=group with a long name,dc=example,dc=com",
    line: 1,
    attrs: {
      member: ["uid=someone,dc=example,dc=com", "UID=Other,DC=example,DC=com"],
    },
  });
  assert.equal(entry?.key, keys[0]);
  assert.equal(entry?.dn, entry?.key);
});
