import assert from "node:assert/strict";
import { syncEnv } from "./_sync_env.ts";

Deno.test("plan --progress reports the organization read on a non-terminal stderr; -q and the default do not", async () => {
  await using env = await syncEnv({
    users: [{ id: "u01", email: "user01@example.com" }],
    groups: [{ id: "g1", name: "Staff", members: ["u01"] }],
    fake: {
      members: [{ email: "owner@example.com", type: 0 }],
      groups: [
        { name: "A", externalId: "a" },
        { name: "B", externalId: "b" },
        { name: "Manual" },
      ],
    },
  });
  await env.login();
  const shown = await env.run(["plan", "--progress"]);
  assert.equal(shown.code, 0, shown.stderr);
  // One member and one group without an external id from the lists, then groups A and B.
  assert.match(
    shown.stderr,
    /^Reading the organization: 4 objects, \d+ requests \(\d+ s\)$/m,
  );
  const quiet = await env.run(["-q", "plan", "--progress"]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /Reading the organization/);
  const plain = await env.run(["plan"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /Reading the organization/);
});
