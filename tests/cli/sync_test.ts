import assert from "node:assert/strict";
import { field, json } from "../_helpers.ts";
import { doc, syncEnv, users } from "./_sync_env.ts";

const STAFF = { id: "g-staff", name: "Staff", members: ["u01", "u02", "u03"] };

Deno.test("sync invites, then sends nothing when nothing changed, then sends a change", async () => {
  await using env = await syncEnv({ users: users(3), groups: [STAFF] });
  await env.login();

  const first = await env.run(["sync"]);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(env.emails(), [
    "owner@example.com",
    "user01@example.com",
    "user02@example.com",
    "user03@example.com",
  ]);
  const group = env.fake.state().groups.find((g) => g.externalId === "g-staff");
  assert.equal(group?.name, "Staff");
  assert.equal(group?.memberIds.length, 3);
  assert.equal(env.imports().length, 1);
  const lastLine = first.stdout.trimEnd().split("\n").at(-1);
  assert.equal(
    lastLine,
    "Synced: 3 members (0 deleted) and 1 group sent in 1 request, accepted by the server (3 invited, 0 linked, 0 removed; groups: 1 created, 0 renamed, 0 updated)",
  );
  assert.match(first.stdout, /request 1 of 1: 3 members \(0 deleted\), 1 group: accepted/);

  const second = await env.run(["sync", "--output", "json"]);
  assert.equal(second.code, 0, second.stderr);
  const document = doc(second.stdout);
  assert.equal(document["object"], "sync");
  assert.equal(document["outcome"], "no-change");
  assert.deepEqual(document["sent"], {
    requests: 0,
    members: 0,
    deleted: 0,
    groups: 0,
    batches: [],
  });
  assert.equal(env.imports().length, 1, "the second run must not POST an import");

  await env.writeDirectory([...users(3), { id: "u04", email: "User04@Example.com" }], [
    { ...STAFF, name: "All staff" },
  ]);
  const third = await env.run(["sync", "--output", "json"]);
  assert.equal(third.code, 0, third.stderr);
  const changed = doc(third.stdout);
  assert.equal(changed["outcome"], "synced");
  assert.equal(changed["requests"], 1);
  assert.deepEqual(changed["sent"], {
    requests: 1,
    members: 4,
    deleted: 0,
    groups: 1,
    batches: [{ members: 4, deleted: 0, groups: 1, status: "accepted" }],
  });
  const plan = doc(JSON.stringify(changed["plan"]));
  assert.equal(plan["invite"], 1);
  assert.equal(plan["groupsRename"], 1);
  assert.equal(env.imports().length, 2);
  assert.ok(env.emails().includes("user04@example.com"));
  assert.equal(
    env.fake.state().groups.find((g) => g.externalId === "g-staff")?.name,
    "All staff",
  );
});

Deno.test("sync puts back a member removed by hand, without clear-cache (drift)", async () => {
  await using env = await syncEnv({ users: users(3) });
  await env.login();
  assert.equal((await env.run(["sync"])).code, 0);
  await env.removeByHand("u02");
  assert.ok(!env.emails().includes("user02@example.com"));
  const before = env.imports().length;

  const result = await env.run(["sync", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  const document = doc(result.stdout);
  assert.equal(document["outcome"], "synced");
  assert.deepEqual(document["drift"], { missing: 1, present: 0, unlinked: 0 });
  assert.match(String(document["reason"]), /drifted \(1 missing \(user02@example\.com\)\)/);
  assert.equal(env.imports().length, before + 1);
  assert.ok(env.emails().includes("user02@example.com"));

  const again = await env.run(["sync", "--output", "json"]);
  assert.equal(doc(again.stdout)["outcome"], "no-change");
  assert.equal(env.imports().length, before + 1);
});

Deno.test("sync --force resends an unchanged directory", async () => {
  await using env = await syncEnv({ users: users(2) });
  await env.login();
  assert.equal((await env.run(["sync"])).code, 0);
  const forced = await env.run(["sync", "--force", "--output", "json"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(doc(forced.stdout)["outcome"], "synced");
  assert.equal(env.imports().length, 2);
});

Deno.test("sync survives a 429 storm, a 502 page and an expired token", async () => {
  await using env = await syncEnv({ users: users(3), fake: { rateLimits: true } });
  await env.login();
  env.fake.failNext(2, "html429", { path: "/organization/import", retryAfter: "1" });
  env.fake.failNext(1, "html502", { path: "/organization/import" });
  env.fake.failNext(1, "slow", { path: "/public/members", ms: 1500 });
  const running = env.run(["sync", "--output", "json"]);
  // Expire the token while the member read is held up, so the server answers it with a 401.
  const deadline = Date.now() + 20_000;
  while (!env.fake.requests().some((r) => r.path.endsWith("/public/members"))) {
    if (Date.now() > deadline) throw new Error("the sync never read the members");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  env.fake.expireTokens();
  const result = await running;
  assert.equal(result.code, 0, result.stderr);
  assert.equal(doc(result.stdout)["outcome"], "synced");
  const statuses = env.imports().map((r) => r.status);
  assert.deepEqual(statuses, [429, 429, 502, 200]);
  assert.ok(env.fake.requests().some((r) => r.status === 401), "a 401 was answered");
  const tokens = env.fake.requests().filter((r) => r.path.endsWith("/connect/token"));
  assert.equal(tokens.length, 3, "login, the sync's token, and the one after the 401");
  assert.equal(env.fake.state().members.length, 4);
});

Deno.test("sync on Teams Starter beyond 10 members exits 10 with the seat error", async () => {
  await using env = await syncEnv({ users: users(11), fake: { org: { plan: "teams-starter" } } });
  await env.login();
  const result = await env.run(["sync"]);
  assert.equal(result.code, 10, result.stderr);
  assert.match(result.stderr, /plan does not allow additional seats/);
  assert.match(result.stderr, /Teams Starter organizations are capped at 10 members/);
  assert.deepEqual(env.emails(), ["owner@example.com"]);
  assert.doesNotMatch(result.stdout, /Synced/);
  // Nothing was recorded as synced: the next run sends again.
  const again = await env.run(["sync"]);
  assert.equal(again.code, 10);
  assert.equal(env.imports().length, 2);
});

Deno.test("sync against Vaultwarden works without the organization view", async () => {
  await using env = await syncEnv({
    users: [...users(2), { id: "u09", email: null, deleted: true }],
    fake: { mode: "vaultwarden" },
  });
  await env.login();
  const result = await env.run(["sync", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  const document = doc(result.stdout);
  assert.equal(document["outcome"], "synced");
  assert.equal(document["orgView"], false);
  assert.match(result.stderr, /Not sending 1 removal without an email.*: u09/);
  assert.deepEqual(env.emails(), ["owner@example.com", "user01@example.com", "user02@example.com"]);

  const again = await env.run(["sync", "--verbose", "--output", "json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(doc(again.stdout)["outcome"], "no-change");
  assert.match(again.stderr, /relying on the change hash alone/);
  assert.equal(env.imports().length, 1);
});

Deno.test("sync without a login exits 8 and says to run roster login", async () => {
  await using env = await syncEnv({ users: users(1) });
  const result = await env.run(["sync"]);
  assert.equal(result.code, 8);
  assert.equal(
    result.stderr,
    "error: Not logged in to Bitwarden: no organization API key is stored\nhint: Run roster login --client-id organization.<id> with the secret in ROSTER_CLIENT_SECRET, --client-secret-file FILE or on stdin\n",
  );
  assert.equal(env.fake.requests().length, 0);
});

Deno.test("sync runs are recorded and shown by history and status", async () => {
  await using env = await syncEnv({ users: users(2) });
  await env.login();
  assert.equal((await env.run(["sync"])).code, 0);
  assert.equal((await env.run(["sync"])).code, 0);
  const history = await env.run(["history", "--output", "json"]);
  const runs = doc(history.stdout)["runs"];
  assert.ok(Array.isArray(runs));
  const [latest, first] = runs.map((r) => doc(JSON.stringify(r)));
  assert.equal(latest?.["command"], "sync");
  assert.equal(latest?.["outcome"], "no-change");
  assert.deepEqual(latest?.["sent"], { users: 0, groups: 0 });
  assert.equal(first?.["outcome"], "ok");
  assert.deepEqual(first?.["read"], { users: 2, groups: 0 });
  assert.deepEqual(first?.["sent"], { users: 2, groups: 0 });
  assert.deepEqual(first?.["batches"], [{ members: 2, deleted: 0, groups: 0, status: "accepted" }]);
  assert.equal(first?.["readMode"], "full");
  assert.equal(first?.["server"], env.fake.apiUrl);
  const status = await env.run(["status", "--output", "json"]);
  const document = doc(status.stdout);
  assert.equal(document["lock"], null, "the lock is released");
  assert.deepEqual(document["auth"], {
    loggedIn: true,
    organizationId: env.fake.organizationId,
  });
  assert.ok(json(status.stdout));
});

Deno.test("sync warns on stderr and in JSON about users the server skips (email linked to another externalId)", async () => {
  await using env = await syncEnv({
    users: [{ id: "u01", email: "user01@example.com" }, { id: "u02", email: "user02@example.com" }],
  });
  await env.login();
  const first = await env.run(["sync"]);
  assert.equal(first.code, 0, first.stderr);
  await env.writeDirectory([
    { id: "x01", email: "user01@example.com" },
    { id: "u02", email: "user02@example.com" },
  ]);
  const warning =
    "The server skips 1 user whose email belongs to a member linked to another externalId (e.g. after switching directory sources) or differs only in letter case: user01@example.com. They keep their old externalId link and get no group memberships from this sync. To link them to this directory, unlink them in the admin console, or run one sync with sync.overwriteExisting true; roster plan lists each with its reason";
  const second = await env.run(["sync", "-o", "json"]);
  assert.equal(second.code, 0, second.stderr);
  assert.ok(second.stderr.split("\n").includes(`warning: ${warning}`), second.stderr);
  const document = doc(second.stdout);
  assert.deepEqual(document["warnings"], [warning]);
  assert.equal(field(document, "plan")["skipped"], 1);
});
