/**
 * Start-up: the CLI imports only the command modules that the arguments need, and the bundle's
 * second run reuses the V8 code cache its first run wrote.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { commandsNeeded } from "../../src/cli.ts";
import { VERSION } from "../../src/version.ts";
import { REPO_ROOT } from "../_helpers.ts";

const ALL = [
  "test",
  "config",
  "last-sync",
  "clear-cache",
  "status",
  "history",
  "login",
  "logout",
  "plan",
  "sync",
  "daemon",
  "migrate",
];

Deno.test("commandsNeeded() names only the command the first operand names", () => {
  assert.deepEqual(commandsNeeded(["test", "--output", "json"]), ["test"]);
  assert.deepEqual(commandsNeeded(["--data-dir", "plan", "-o", "json", "sync"]), ["sync"]);
  assert.deepEqual(commandsNeeded(["-q", "last-sync", "users"]), ["last-sync"]);
});

Deno.test("commandsNeeded() names no command for a bare --version", () => {
  assert.deepEqual(commandsNeeded(["--version"]), []);
  assert.deepEqual(commandsNeeded(["-v"]), []);
});

Deno.test("commandsNeeded() names every command for help and unknown commands", () => {
  assert.deepEqual(commandsNeeded([]), ALL);
  assert.deepEqual(commandsNeeded(["--help"]), ALL);
  assert.deepEqual(commandsNeeded(["--version", "--help"]), ALL);
  assert.deepEqual(commandsNeeded(["help", "test"]), ALL);
  assert.deepEqual(commandsNeeded(["tset"]), ALL);
  assert.deepEqual(commandsNeeded(["--", "test"]), ALL);
});

Deno.test("the bundle's second run reuses the V8 code cache that its first run wrote", async () => {
  // main.ts exits after its evaluation has finished: exiting during it (a top-level
  // `Deno.exit(await main())`) keeps Deno from writing the cache, and every start then
  // compiles the whole bundle again.
  const root = await Deno.makeTempDir({ prefix: "roster-code-cache-" });
  try {
    const bundle = join(root, "roster.js");
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "-o", bundle, "main.ts"],
      cwd: REPO_ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    await Deno.mkdir(join(root, "deno-dir"));
    const run = async () => {
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-L", "debug", "-A", "--unstable-kv", bundle, "--version"],
        cwd: root,
        env: { DENO_DIR: join(root, "deno-dir"), NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decoder = new TextDecoder();
      return {
        code: result.code,
        stdout: decoder.decode(result.stdout),
        stderr: decoder.decode(result.stderr),
      };
    };
    const hit = `V8 code cache hit for ES module: ${pathToFileURL(bundle).href}`;
    const first = await run();
    assert.deepEqual([first.code, first.stdout], [0, `${VERSION}\n`]);
    assert.equal(first.stderr.includes(hit), false, "an empty DENO_DIR holds no cache");
    const second = await run();
    assert.deepEqual([second.code, second.stdout], [0, `${VERSION}\n`]);
    assert.equal(second.stderr.includes(hit), true, second.stderr.slice(-2000));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
