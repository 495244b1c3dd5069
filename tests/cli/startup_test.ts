/** Start-up: the CLI imports only the command modules that the arguments need. */
import assert from "node:assert/strict";
import { commandsNeeded } from "../../src/cli.ts";

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
