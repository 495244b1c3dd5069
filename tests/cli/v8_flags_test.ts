import assert from "node:assert/strict";
import { V8_FLAGS } from "../../scripts/_v8_flags.ts";

const root = new URL("../../", import.meta.url);
const flag = `--v8-flags=${V8_FLAGS}`;

Deno.test("deno.json's roster and demo tasks run with roster's V8 flags", async () => {
  const config: unknown = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  assert.ok(typeof config === "object" && config !== null && "tasks" in config);
  const tasks = config.tasks;
  assert.ok(typeof tasks === "object" && tasks !== null);
  for (const name of ["roster", "demo"]) {
    const task: unknown = Object.entries(tasks).find(([key]) => key === name)?.[1];
    assert.ok(typeof task === "object" && task !== null && "command" in task);
    assert.equal(typeof task.command, "string");
    assert.equal(String(task.command).split(" ").includes(flag), true, `task ${name}`);
  }
});

Deno.test("the README's bundle commands run with roster's V8 flags", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const runs = readme.match(/run -A --unstable-kv [^`"]*roster\.js/g) ?? [];
  assert.equal(runs.length, 2);
  for (const run of runs) assert.equal(run.split(" ").includes(flag), true, run);
});
