import assert from "node:assert/strict";
import { ConfigError, DirectoryDataError } from "../../src/errors.ts";
import {
  decodeText,
  firstInvalidUtf8,
  resolveEncoding,
  utf8Stream,
} from "../../src/text/decode.ts";

const utf8 = new TextEncoder();

/** Runs bytes, split into the given chunks, through utf8Stream and returns the text. */
async function decode(chunks: Uint8Array[], encoding = "auto"): Promise<string> {
  const source = ReadableStream.from(chunks);
  const out: Uint8Array[] = [];
  for await (const chunk of utf8Stream(source, { encoding, source: "dir.csv" })) out.push(chunk);
  const whole = new Uint8Array(out.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of out) {
    whole.set(c, at);
    at += c.length;
  }
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(whole);
}

async function decodeError(chunks: Uint8Array[], encoding = "auto"): Promise<DirectoryDataError> {
  const error = await decode(chunks, encoding).then(
    () => assert.fail("expected the file to be refused"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DirectoryDataError, String(error));
  assert.equal(error.exitCode, 7);
  return error;
}

const bytes = (...values: number[]) => new Uint8Array(values);

/** "Einkäufer" in Windows-1252: ä is 0xE4. */
const CP1252_LINE = bytes(0x45, 0x69, 0x6e, 0x6b, 0xe4, 0x75, 0x66, 0x65, 0x72);

Deno.test("utf8Stream() passes UTF-8 through unchanged and drops a UTF-8 BOM", async () => {
  assert.equal(await decode([utf8.encode("a,b\nMünchen\n")]), "a,b\nMünchen\n");
  assert.equal(await decode([bytes(0xef, 0xbb, 0xbf), utf8.encode("x\n")]), "x\n");
  assert.equal(await decode([bytes(0xef), bytes(0xbb, 0xbf, 0x79)]), "y");
});

Deno.test("utf8Stream() keeps a multi-byte character split across chunks", async () => {
  const text = utf8.encode("ä€😀");
  const chunks = [...text].map((b) => bytes(b));
  assert.equal(await decode(chunks), "ä€😀");
});

Deno.test("utf8Stream() decodes UTF-16LE and UTF-16BE files with a BOM", async () => {
  const le = bytes(0xff, 0xfe, 0x4d, 0x00, 0xfc, 0x00, 0x0a, 0x00);
  const be = bytes(0xfe, 0xff, 0x00, 0x4d, 0x00, 0xfc, 0x00, 0x0a);
  assert.equal(await decode([le]), "Mü\n");
  assert.equal(await decode([be.subarray(0, 3), be.subarray(3)]), "Mü\n");
});

Deno.test("utf8Stream() refuses Windows-1252 bytes in auto mode, naming the line and the fix", async () => {
  const error = await decodeError([utf8.encode("type,id\nuser,u1\n"), CP1252_LINE]);
  assert.equal(
    error.message,
    "Cannot read dir.csv at line 3: byte 0xE4 is not valid UTF-8, so the file is not UTF-8",
  );
  assert.equal(
    error.hint,
    "Save the file as UTF-8, or name its encoding: roster config set directory.file.encoding " +
      "windows-1252",
  );
  assert.deepEqual(error.details, {
    path: "dir.csv",
    line: 3,
    setting: "directory.file.encoding",
  });
});

Deno.test("utf8Stream() counts lines across chunks and reports a truncated sequence at the end", async () => {
  const error = await decodeError([utf8.encode("a\nb\n"), utf8.encode("c\n"), bytes(0x64, 0xc3)]);
  assert.match(error.message, /^Cannot read dir\.csv at line 4: byte 0xC3 is not valid UTF-8/);
});

Deno.test("utf8Stream() refuses NUL bytes: UTF-16 without a BOM", async () => {
  const error = await decodeError([bytes(0x61, 0x00, 0x0a, 0x00)]);
  assert.equal(
    error.message,
    "Cannot read dir.csv at line 1: the file contains a NUL byte (it looks like UTF-16 without " +
      "a byte order mark, or a binary file)",
  );
  assert.match(error.hint ?? "", /directory\.file\.encoding utf-16le/);
});

Deno.test("utf8Stream() names the line of a NUL byte after other lines, in a later chunk", async () => {
  const error = await decodeError([utf8.encode("a\nb\n"), utf8.encode("ä\nc\nd"), bytes(0x00)]);
  assert.match(error.message, /^Cannot read dir\.csv at line 5: the file contains a NUL byte/);
  const inChunk = await decodeError([utf8.encode("a\nb\n"), utf8.encode("ä\nc\nd\0e\n")]);
  assert.match(inChunk.message, /^Cannot read dir\.csv at line 5: the file contains a NUL byte/);
});

Deno.test("utf8Stream() decodes a named encoding: windows-1252 and its alias latin1", async () => {
  assert.equal(await decode([CP1252_LINE], "windows-1252"), "Einkäufer");
  assert.equal(await decode([CP1252_LINE], "latin1"), "Einkäufer");
  assert.equal(await decode([bytes(0xa4)], "iso-8859-15"), "€");
});

Deno.test("utf8Stream() refuses bytes a named encoding does not map, with the line", async () => {
  // 0xA5 has no character in ISO-8859-3.
  const error = await decodeError([utf8.encode("x\n"), bytes(0x41, 0xa5)], "iso-8859-3");
  assert.equal(
    error.message,
    "Cannot read dir.csv at line 2: a byte sequence is not valid iso-8859-3",
  );
});

Deno.test("utf8Stream() refuses a UTF-8 BOM on a file named as windows-1252", async () => {
  const error = await decodeError([bytes(0xef, 0xbb, 0xbf, 0x41)], "windows-1252");
  assert.equal(
    error.message,
    "Cannot read dir.csv at line 1: the file starts with a UTF-8 byte order mark but " +
      "directory.file.encoding is windows-1252",
  );
  assert.equal(error.hint, "The file is UTF-8: roster config set directory.file.encoding auto");
});

Deno.test("resolveEncoding() accepts auto and WHATWG labels and refuses unknown ones", () => {
  assert.deepEqual(resolveEncoding("AUTO"), { kind: "auto" });
  assert.deepEqual(resolveEncoding("Latin1"), { kind: "named", encoding: "windows-1252" });
  assert.deepEqual(resolveEncoding("utf-16"), { kind: "named", encoding: "utf-16le" });
  assert.throws(() => resolveEncoding("klingon"), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, 'Unknown character encoding in directory.file.encoding: "klingon"');
    return true;
  });
});

Deno.test("firstInvalidUtf8() finds overlong forms, surrogates, code points above U+10FFFF", () => {
  assert.equal(firstInvalidUtf8(utf8.encode("aä€😀")), -1);
  assert.equal(firstInvalidUtf8(bytes(0x41, 0xc0, 0x80)), 1); // overlong NUL
  assert.equal(firstInvalidUtf8(bytes(0xe0, 0x80, 0x80)), 0); // overlong
  assert.equal(firstInvalidUtf8(bytes(0xed, 0xa0, 0x80)), 0); // surrogate U+D800
  assert.equal(firstInvalidUtf8(bytes(0xf4, 0x90, 0x80, 0x80)), 0); // above U+10FFFF
  assert.equal(firstInvalidUtf8(bytes(0x41, 0x80)), 1); // lone continuation byte
  assert.equal(firstInvalidUtf8(bytes(0x41, 0xe2, 0x82)), 1); // truncated at the end
  assert.equal(firstInvalidUtf8(bytes(0x41, 0xe2, 0x82), false), -1); // more may follow
});

Deno.test("utf8Stream() refuses a U+FFFD written in the file when asked (CSV and JSON)", async () => {
  const damaged = utf8.encode("group,g1,,Eink\uFFFDufer\n");
  assert.equal(await decode([damaged]), "group,g1,,Eink\uFFFDufer\n");
  const stream = utf8Stream(ReadableStream.from([utf8.encode("x\n"), damaged]), {
    source: "dir.csv",
    refuseReplacement: true,
  });
  const error = await Array.fromAsync(stream).then(
    () => assert.fail("expected the file to be refused"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DirectoryDataError);
  assert.equal(
    error.message,
    "Cannot read dir.csv at line 2: the file contains U+FFFD, the replacement character, so " +
      "characters were already lost when it was written",
  );
});

/** Runs bytes, split into the given chunks, through decodeText and returns its text chunks. */
async function decodeTextChunks(chunks: Uint8Array[], encoding = "auto"): Promise<string[]> {
  const out: string[] = [];
  for await (
    const text of decodeText(ReadableStream.from(chunks), { encoding, source: "dir.ldif" })
  ) {
    out.push(text);
  }
  return out;
}

Deno.test("decodeText() yields the text of each chunk, a character split across chunks whole", async () => {
  const euro = utf8.encode("€"); // E2 82 AC
  const chunks = await decodeTextChunks([
    utf8.encode("\uFEFFa\n"),
    euro.subarray(0, 1),
    euro.subarray(1),
    utf8.encode("\nb\n"),
  ]);
  assert.deepEqual(chunks, ["a\n", "€", "\nb\n"]);
});

Deno.test("decodeText() drops a second byte order mark at the start, as a TextDecoder after utf8Stream does", async () => {
  const twice = bytes(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x61, 0x0a);
  assert.deepEqual(await decodeTextChunks([twice]), ["a\n"]);
  assert.equal(await decode([twice]), "\uFEFFa\n");
});

Deno.test("decodeText() decodes UTF-16 with a BOM and a named encoding like utf8Stream", async () => {
  assert.deepEqual(await decodeTextChunks([bytes(0xff, 0xfe, 0x61, 0x00, 0xe4, 0x00)]), ["aä"]);
  assert.deepEqual(await decodeTextChunks([CP1252_LINE], "windows-1252"), ["Einkäufer"]);
});

Deno.test("decodeText() refuses what utf8Stream refuses, with the same message and line", async () => {
  const cases: [Uint8Array[], string][] = [
    [[utf8.encode("ok\nok\n"), CP1252_LINE], "auto"], // Windows-1252 byte, line 3
    [[utf8.encode("x\n"), bytes(0x41, 0x00, 0x42)], "auto"], // NUL byte
    [[utf8.encode("x\ny\n"), bytes(0xe2, 0x82)], "auto"], // cut short at the end
    [[utf8.encode("a\n"), bytes(0xe0, 0x80)], "auto"], // an invalid sequence held back
    [[utf8.encode("a\nb\n"), bytes(0x81)], "shift_jis"], // not valid in the named encoding
  ];
  for (const [chunks, encoding] of cases) {
    const expected = await decodeError(chunks, encoding);
    const error = await decodeTextChunks(chunks, encoding).then(
      () => assert.fail("expected the file to be refused"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof DirectoryDataError, String(error));
    assert.equal(error.message.replace("dir.ldif", "dir.csv"), expected.message);
    assert.equal(error.hint, expected.hint);
  }
});

Deno.test("decodeText() with linesRead refuses with the same line when the consumer counts the lines", async () => {
  const cases: [Uint8Array[], string][] = [
    [[utf8.encode("ok\nok\n"), CP1252_LINE], "auto"], // Windows-1252 byte, line 3
    [[utf8.encode("x\n"), bytes(0x41, 0x00, 0x42)], "auto"], // NUL byte
    [[utf8.encode("x\ny\n"), bytes(0xe2, 0x82)], "auto"], // cut short at the end
    [[utf8.encode("a\n"), bytes(0xe0, 0x80)], "auto"], // an invalid sequence held back
    [[utf8.encode("a\nb\n"), bytes(0x81)], "shift_jis"], // not valid in the named encoding
    [[utf8.encode("a\nb"), utf8.encode("c\nd\ne"), bytes(0x0a, 0xff)], "auto"], // line 4
  ];
  for (const [chunks, encoding] of cases) {
    const expected = await decodeError(chunks, encoding);
    let lines = 0;
    const text = decodeText(ReadableStream.from(chunks), {
      encoding,
      source: "dir.csv",
      linesRead: () => lines,
    });
    const error = await (async () => {
      for await (const chunk of text) lines += chunk.split("\n").length - 1;
    })().then(() => assert.fail("expected the file to be refused"), (e: unknown) => e);
    assert.ok(error instanceof DirectoryDataError, String(error));
    assert.equal(error.message, expected.message);
    assert.equal(error.details?.line, expected.details?.line);
  }
});

Deno.test("decodeText() with linesRead takes the line of an error from the consumer's count", async () => {
  const text = decodeText(ReadableStream.from([utf8.encode("abc\n"), bytes(0x62, 0x0a, 0xff)]), {
    source: "dir.ldif",
    linesRead: () => 40,
  });
  const error = await (async () => {
    for await (const _ of text) { /* consumed */ }
  })().then(() => assert.fail("expected the file to be refused"), (e: unknown) => e);
  assert.ok(error instanceof DirectoryDataError, String(error));
  assert.match(error.message, /^Cannot read dir\.ldif at line 42: /);
});
