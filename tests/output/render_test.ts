import assert from "node:assert/strict";
import {
  captureIo,
  colorAllowed,
  formatTable,
  Renderer,
  renderError,
  toJson,
} from "../../src/output/render.ts";
import { Logger } from "../../src/output/log.ts";
import { ConfigError } from "../../src/errors.ts";

Deno.test("formatTable() aligns columns and never pads the last one", () => {
  assert.deepEqual(
    formatTable([["alice", "12"], ["bob", "3"]], { headers: ["NAME", "N"], alignRight: [1] }),
    ["  NAME    N", "  alice  12", "  bob     3"],
  );
});

Deno.test("formatTable() moves the last column to a continuation line past maxWidth", () => {
  assert.deepEqual(formatTable([["a".repeat(10), "b".repeat(10)]], { maxWidth: 20 }), [
    "  aaaaaaaaaa",
    "      bbbbbbbbbb",
  ]);
});

Deno.test("toJson() indents with two spaces and ends with a newline", () => {
  assert.equal(toJson({ a: [1] }), '{\n  "a": [\n    1\n  ]\n}\n');
});

Deno.test("renderError() prints message and hint on stderr in table mode", () => {
  const io = captureIo();
  const code = renderError(new ConfigError("Bad thing: x", { hint: "Do y" }), io, {
    format: "table",
    color: false,
    verbose: false,
  });
  assert.equal(code, 2);
  assert.equal(io.stderr, "error: Bad thing: x\nhint: Do y\n");
  assert.equal(io.stdout, "");
});

Deno.test("renderError() prints an error document on stdout in JSON mode", () => {
  const io = captureIo();
  renderError(new ConfigError("Bad thing: x"), io, {
    format: "json",
    color: false,
    verbose: false,
  });
  assert.equal(
    io.stdout,
    toJson({
      object: "error",
      code: "config_invalid",
      message: "Bad thing: x",
      hint: null,
      details: null,
    }),
  );
});

Deno.test("renderError() maps unexpected errors to 1 and shows the stack only with verbose", () => {
  const quiet = captureIo();
  assert.equal(
    renderError(new TypeError("boom"), quiet, { format: "table", color: false, verbose: false }),
    1,
  );
  assert.equal(
    quiet.stderr,
    "error: Unexpected error: boom\n" +
      "hint: This is a bug in roster: please report it with the command you ran and the output of the same command with --verbose\n",
  );
  const verbose = captureIo();
  renderError(new TypeError("boom"), verbose, { format: "table", color: false, verbose: true });
  assert.match(verbose.stderr, /\nTypeError: boom\n {4}at /);
});

Deno.test("colorAllowed() honours --no-color, NO_COLOR and terminals", () => {
  assert.equal(colorAllowed(captureIo(), { flag: true, terminal: true }), true);
  assert.equal(colorAllowed(captureIo(), { flag: false, terminal: true }), false);
  assert.equal(
    colorAllowed(captureIo({ env: { NO_COLOR: "1" } }), { flag: true, terminal: true }),
    false,
  );
  assert.equal(colorAllowed(captureIo(), { flag: true, terminal: false }), false);
});

Deno.test("colorAllowed() is off with TERM=dumb and with NO_COLOR set to any value", () => {
  assert.equal(
    colorAllowed(captureIo({ env: { TERM: "dumb" } }), { flag: true, terminal: true }),
    false,
  );
  assert.equal(
    colorAllowed(captureIo({ env: { TERM: "xterm-256color" } }), { flag: true, terminal: true }),
    true,
  );
  assert.equal(
    colorAllowed(captureIo({ env: { NO_COLOR: "0" } }), { flag: true, terminal: true }),
    false,
  );
});

Deno.test("Logger writes to stderr by level", () => {
  const io = captureIo();
  const quiet = new Logger(io, { level: "quiet", color: false });
  quiet.info("hidden");
  quiet.warn("hidden");
  quiet.error("shown");
  const verbose = new Logger(io, { level: "verbose", color: false });
  verbose.debug("detail");
  verbose.warn("careful");
  assert.equal(io.stderr, "error: shown\ndebug: detail\nwarning: careful\n");
  assert.equal(io.stdout, "");
});

Deno.test("writeJsonPieces() writes exactly what JSON.stringify(value, null, 2) writes", async () => {
  const { writeJsonPieces } = await import("../../src/output/render.ts");
  const samples: unknown[] = [
    null,
    0,
    -1.5,
    'text with "quotes", \\ and \u2028 ünïcödé',
    [],
    {},
    [[], {}, [1, [2, [3]]]],
    { a: undefined, b: () => 1, c: [undefined, () => 1], d: null, e: NaN, f: Infinity },
    { date: new Date(Date.UTC(2026, 10, 27, 3, 0, 0)), nested: { deeper: { list: ["x", "y"] } } },
    {
      object: "test",
      groups: [{ externalId: "g1", name: "Eng", memberExternalIds: ["u1", "u2"] }],
      users: { enabled: [{ externalId: "u1", email: "a@example.com" }], disabled: [] },
    },
  ];
  for (const sample of samples) {
    const pieces: string[] = [];
    writeJsonPieces(sample, (piece) => pieces.push(piece));
    assert.equal(pieces.join(""), JSON.stringify(sample, null, 2));
  }
});

Deno.test("Renderer.printJsonText() writes each piece as it comes, then a newline", () => {
  const io = captureIo();
  const out = new Renderer(io, { format: "json", color: false, quiet: false });
  const seen: string[] = [];
  out.printJsonText((write) => {
    write('{"a": ');
    seen.push(io.stdout);
    write("1}");
    seen.push(io.stdout);
  });
  assert.deepEqual(seen, ['{"a": ', '{"a": 1}']);
  assert.equal(io.stdout, '{"a": 1}\n');
});
