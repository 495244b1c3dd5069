import assert from "node:assert/strict";
import { progressEnabled, ProgressFactory } from "../../src/output/progress.ts";
import { type CapturedIo, captureIo, type Io } from "../../src/output/render.ts";

/** A captured Io whose stderr is (or is not) a terminal. */
function terminalIo(
  env: Record<string, string> = {},
  terminal = true,
): { io: Io; cap: CapturedIo } {
  const cap = captureIo({ env });
  return { io: { ...cap, stderrIsTerminal: () => terminal, env: (n) => env[n] }, cap };
}

function clockAt(start: number): { now: () => number; set: (t: number) => void } {
  let time = start;
  return { now: () => time, set: (t) => (time = t) };
}

Deno.test("progressEnabled(): never with -q, on a terminal by default, elsewhere only with --progress", () => {
  const tty = terminalIo().io;
  const pipe = terminalIo({}, false).io;
  assert.equal(progressEnabled(tty, { quiet: false, force: false }), true);
  assert.equal(progressEnabled(tty, { quiet: true, force: true }), false);
  assert.equal(progressEnabled(pipe, { quiet: false, force: false }), false);
  assert.equal(progressEnabled(pipe, { quiet: false, force: true }), true);
});

Deno.test("on a terminal one line is rewritten in place and erased when the read ends", () => {
  const { io, cap } = terminalIo({ NO_COLOR: "1" });
  const clock = clockAt(0);
  const progress = new ProgressFactory(io, { quiet: false, force: false, now: clock.now });
  const report = progress.organization();
  report({ objects: 10, requests: 3, throttleWaits: 0 });
  clock.set(50);
  report({ objects: 20, requests: 4, throttleWaits: 0 }); // within 100 ms: skipped
  clock.set(2_000);
  report({ objects: 1_200, requests: 14, throttleWaits: 2 });
  report({ objects: 1_300, requests: 15, throttleWaits: 2, done: true });
  assert.equal(
    cap.stderr,
    "Reading the organization: 10 objects, 3 requests (0 s)" +
      "\r\x1b[2KReading the organization: 1,200 objects, 14 requests, 2 throttle waits (2 s)" +
      "\r\x1b[2K",
  );
});

Deno.test("output through the wrapped Io erases the progress line first", () => {
  const { io, cap } = terminalIo({ NO_COLOR: "1" });
  const progress = new ProgressFactory(io, { quiet: false, force: false, now: () => 0 });
  const wrapped = progress.wrapIo(io);
  progress.reader("Reading the directory")({ objects: 1, requests: 1, throttleWaits: 0 });
  wrapped.writeErr("warning: x\n");
  wrapped.writeOut("result\n");
  assert.equal(
    cap.stderr,
    "Reading the directory: 1 object, 1 request (0 s)\r\x1b[2Kwarning: x\n",
  );
  assert.equal(cap.stdout, "result\n");
});

Deno.test("TERM=dumb erases with spaces and colour is off; colour is on otherwise", () => {
  const dumb = terminalIo({ TERM: "dumb" });
  const plain = new ProgressFactory(dumb.io, { quiet: false, force: false, now: () => 0 });
  plain.reader("Reading")({ objects: 2, requests: 1, throttleWaits: 0 });
  plain.clear();
  const line = "Reading: 2 objects, 1 request (0 s)";
  assert.equal(dumb.cap.stderr, `${line}\r${" ".repeat(line.length)}\r`);

  const coloured = terminalIo({});
  const factory = new ProgressFactory(coloured.io, { quiet: false, force: false, now: () => 0 });
  factory.reader("Reading")({ objects: 2, requests: 1, throttleWaits: 0 });
  assert.equal(coloured.cap.stderr, "\x1b[2mReading:\x1b[22m 2 objects, 1 request (0 s)");

  const flagged = terminalIo({});
  const off = new ProgressFactory(flagged.io, {
    quiet: false,
    force: false,
    color: false,
    now: () => 0,
  });
  off.reader("Reading")({ objects: 2, requests: 1, throttleWaits: 0 });
  assert.equal(flagged.cap.stderr, line);
});

Deno.test("with --progress on a non-terminal, plain lines at most every 5 s and one at the end", () => {
  const { io, cap } = terminalIo({}, false);
  const clock = clockAt(0);
  const progress = new ProgressFactory(io, { quiet: false, force: true, now: clock.now });
  const report = progress.organization();
  report({ objects: 1, requests: 1, throttleWaits: 0 });
  clock.set(4_000);
  report({ objects: 2, requests: 2, throttleWaits: 0 });
  clock.set(6_000);
  report({ objects: 3, requests: 3, throttleWaits: 1 });
  clock.set(7_000);
  report({ objects: 4, requests: 4, throttleWaits: 1, done: true });
  assert.equal(
    cap.stderr,
    "Reading the organization: 1 object, 1 request (0 s)\n" +
      "Reading the organization: 3 objects, 3 requests, 1 throttle wait (6 s)\n" +
      "Reading the organization: 4 objects, 4 requests, 1 throttle wait (7 s)\n",
  );
});

Deno.test("nothing is printed with -q or on a non-terminal without --progress", () => {
  for (const [terminal, quiet] of [[true, true], [false, false]] as const) {
    const { io, cap } = terminalIo({}, terminal);
    const progress = new ProgressFactory(io, { quiet, force: false, now: () => 0 });
    progress.organization()({ objects: 1, requests: 1, throttleWaits: 0, done: true });
    assert.equal(cap.stderr, "");
  }
});
