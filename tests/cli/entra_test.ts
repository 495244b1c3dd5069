import assert from "node:assert/strict";
import { startFakeGraph } from "../fakes/graph.ts";
import { ID, TENANT } from "../providers/entra/_tenant.ts";
import { doc, syncEnv } from "./_sync_env.ts";

const FRANK = "00000000-0000-4000-8000-0000000000f1";

async function entraEnv() {
  const graph = await startFakeGraph({ tenant: TENANT, throttle: false });
  const env = await syncEnv();
  await env.writeConfig({
    directory: {
      type: "entra",
      entra: {
        tenant: graph.domain,
        applicationId: graph.credentials.clientId,
        authorityUrl: graph.authorityUrl,
        graphUrl: graph.graphUrl,
      },
    },
    sync: { users: true, groups: true },
  });
  const set = await env.run(["config", "set", "directory.entra.key", "--secret-env", "KEY"], {
    env: { KEY: graph.credentials.secret },
  });
  assert.equal(set.code, 0, set.stderr);
  return {
    graph,
    env,
    async [Symbol.asyncDispose]() {
      await graph.close();
      await env[Symbol.asyncDispose]();
    },
  };
}

Deno.test("roster test and sync read Entra ID end to end, then sync a delta", async () => {
  await using setup = await entraEnv();
  const { env, graph } = setup;

  const test = await env.run(["test", "--output", "json"]);
  assert.equal(test.code, 0, test.stderr);
  const report = doc(test.stdout);
  assert.equal(JSON.stringify(report).includes("alice@contoso.com"), true);

  await env.login();
  const first = await env.run(["sync", "--output", "json"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(doc(first.stdout)["outcome"], "synced");
  assert.deepEqual(env.emails(), [
    "alice@contoso.com",
    "bob@contoso.com",
    "carol@contoso.com",
    "dave@contoso.com",
    "gus@example.org",
    "owner@example.com",
  ]);
  const engineering = env.fake.state().groups.find((g) => g.externalId === ID.eng);
  assert.equal(engineering?.name, "Engineering");
  assert.equal(engineering?.memberIds.length, 3, "alice, bob and carol (through Ops)");

  graph.addUser({ id: FRANK, userPrincipalName: "frank@contoso.com", mail: "frank@contoso.com" });
  graph.addMember(ID.ops, FRANK);
  graph.resetCounters();
  const second = await env.run(["sync", "--output", "json"]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(doc(second.stdout)["outcome"], "synced");
  assert.ok(env.emails().includes("frank@contoso.com"));
  const routes = graph.counters().byRoute;
  assert.equal(routes.users, undefined, "the second sync read the users delta, not /users");
  assert.equal(routes.usersDelta, 1);
  assert.equal(routes.groupsDelta, 1);
  assert.equal(
    env.fake.state().groups.find((g) => g.externalId === ID.eng)?.memberIds.length,
    4,
    "frank joined Engineering through Ops",
  );
});

Deno.test("roster sync exits 5 and sends nothing when a member page keeps failing", async () => {
  await using setup = await entraEnv();
  const { env, graph } = setup;
  await env.login();
  graph.failNext(Infinity, "503", { path: "/members", retryAfter: "0" });
  const result = await env.run(["sync"]);
  assert.equal(result.code, 5, result.stderr);
  assert.match(
    result.stderr,
    /Directory read incomplete: GET \/v1\.0\/groups\/.+\/members answered 503/,
  );
  assert.equal(env.imports().length, 0);
});

Deno.test("roster test exits 6 naming the secret to fix when Entra ID refuses it", async () => {
  await using setup = await entraEnv();
  const { env } = setup;
  await env.run(["config", "set", "directory.entra.key", "--secret-env", "KEY"], {
    env: { KEY: "not-the-secret" },
  });
  const result = await env.run(["test"]);
  assert.equal(result.code, 6, result.stderr);
  assert.match(result.stderr, /AADSTS7000215: Invalid client secret provided/);
  assert.match(result.stderr, /roster config set directory\.entra\.key --secret-env VAR/);
});

Deno.test("roster test exits 6 naming the permission and admin consent on a 403", async () => {
  await using setup = await entraEnv();
  const { env, graph } = setup;
  graph.setPermissions(["User.Read.All"]);
  const result = await env.run(["test"]);
  assert.equal(result.code, 6, result.stderr);
  assert.match(result.stderr, /GroupMember\.Read\.All/);
  assert.match(result.stderr, /grant admin consent/);
});
