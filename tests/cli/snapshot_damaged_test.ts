/**
 * A damaged delta snapshot (`<dataDir>/snapshots/<key>.json` cut short, e.g. by a full disk or
 * a crash before the file reached the disk) must not stop the sync with "a bug in roster": the
 * delta cannot be applied, so roster reads the whole directory, says so, and syncs.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startFakeOkta } from "../fakes/okta.ts";
import { syncEnv } from "./_sync_env.ts";

Deno.test("sync reads the whole directory when the stored delta snapshot is damaged, and sends the change", async () => {
  const okta = startFakeOkta({
    users: [{ id: "00u01", login: "ann@example.com" }, { id: "00u02", login: "bob@example.com" }],
    groups: [{ id: "00g1", name: "Staff", members: ["00u01", "00u02"] }],
  });
  try {
    await using env = await syncEnv();
    await env.writeConfig({
      directory: { type: "okta", okta: { orgUrl: okta.orgUrl } },
      sync: { users: true, groups: true },
    });
    const set = await env.run(["config", "set", "directory.okta.token", "--secret-env", "T"], {
      env: { T: okta.token },
    });
    assert.equal(set.code, 0, set.stderr);
    await env.login();
    const first = await env.run(["sync"]);
    assert.equal(first.code, 0, first.stderr);

    const dir = join(env.dataDir, "snapshots");
    const damaged: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name === "order.json") continue;
      await Deno.writeTextFile(join(dir, entry.name), '{"users":[{"ext');
      damaged.push(join(dir, entry.name));
    }
    assert.equal(damaged.length, 1);
    okta.addUser({ id: "00u03", login: "cy@example.com" });

    const second = await env.run(["sync"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `warning: The stored snapshot ${
          damaged[0]
        } is damaged \\(Unterminated string in JSON at position 15 \\(line 1 column 16\\)\\): reading the whole directory instead of applying the okta delta read\\n`,
      ),
    );
    assert.deepEqual(env.emails(), [
      "ann@example.com",
      "bob@example.com",
      "cy@example.com",
      "owner@example.com",
    ]);
    assert.equal(env.imports().length, 2);
  } finally {
    await okta.close();
  }
});
