import assert from "node:assert/strict";
import { roster } from "../_helpers.ts";

/** The commands `roster --help` lists, in its order. */
function commandsOf(help: string): string[] {
  const section = help.split("\nCommands:\n")[1]?.split("\n\n")[0] ?? "";
  return section.split("\n").map((line) => /^ {2}([a-z-]+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== "help");
}

Deno.test("every command's --help names bwdc as users know it, never by an internal name", async () => {
  const top = await roster(["--help"]);
  assert.equal(top.code, 0, top.stderr);
  const commands = commandsOf(top.stdout);
  assert.ok(commands.includes("config") && commands.includes("sync"), top.stdout);
  const offenders: string[] = [];
  for (const name of ["", ...commands]) {
    const help = await roster(name === "" ? ["--help"] : [name, "--help"]);
    assert.equal(help.code, 0, `${name} --help: ${help.stderr}`);
    for (const line of help.stdout.split("\n")) {
      if (/seed[ -]tool/i.test(line)) offenders.push(`${name || "roster"}: ${line.trim()}`);
    }
  }
  assert.deepEqual(offenders, []);
});
