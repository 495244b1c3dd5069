import assert from "node:assert/strict";
import { join } from "node:path";
import { doc, syncEnv, users } from "./_sync_env.ts";
import { tempDataDir } from "../_helpers.ts";

Deno.test("login checks the key, stores it without printing the secret, and names the organization", async () => {
  await using env = await syncEnv();
  const secret = env.fake.credentials.clientSecret;
  const result = await env.run([
    "login",
    "--client-id",
    env.fake.credentials.clientId,
    "--output",
    "json",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(doc(result.stdout), {
    object: "login",
    organizationId: env.fake.organizationId,
    clientId: env.fake.credentials.clientId,
    server: { api: env.fake.apiUrl, identity: env.fake.identityUrl },
    secretFrom: "ROSTER_CLIENT_SECRET",
    replaced: false,
  });
  assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret));
  const tokens = env.fake.requests().filter((r) => r.path.endsWith("/connect/token"));
  assert.deepEqual(tokens.map((r) => r.status), [200]);

  const table = await env.run(["login", "--client-id", env.fake.credentials.clientId]);
  assert.equal(table.code, 0);
  assert.match(
    table.stdout,
    new RegExp(
      `^Logged in to organization ${env.fake.organizationId} \\(the previous API key was replaced\\)\n`,
    ),
  );
  assert.ok(!table.stdout.includes(secret));
  const status = doc((await env.run(["status", "--output", "json"])).stdout);
  assert.deepEqual(status["auth"], { loggedIn: true, organizationId: env.fake.organizationId });
});

Deno.test("login reads the secret from stdin, a file, or bwdc's variables", async () => {
  await using env = await syncEnv();
  const { clientId, clientSecret } = env.fake.credentials;
  const stdin = await env.run(["login", "--client-id", clientId, "--output", "json"], {
    stdin: `${clientSecret}\n`,
    env: { ROSTER_CLIENT_SECRET: "" },
  });
  assert.equal(stdin.code, 0, stdin.stderr);
  assert.equal(doc(stdin.stdout)["secretFrom"], "stdin");

  const file = join(env.root, "secret.txt");
  await Deno.writeTextFile(file, `${clientSecret}\n`);
  const fromFile = await env.run(
    ["login", "--client-id", clientId, "--client-secret-file", file, "--output", "json"],
    { env: { ROSTER_CLIENT_SECRET: "" } },
  );
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(doc(fromFile.stdout)["secretFrom"], "--client-secret-file");

  const bw = await env.run(["login", "--output", "json"], {
    env: { ROSTER_CLIENT_SECRET: "", BW_CLIENTID: clientId, BW_CLIENTSECRET: clientSecret },
  });
  assert.equal(bw.code, 0, bw.stderr);
  assert.equal(doc(bw.stdout)["secretFrom"], "BW_CLIENTSECRET");
});

Deno.test("login refuses a secret on the command line", async () => {
  await using env = await syncEnv();
  const result = await env.run([
    "login",
    "--client-id",
    env.fake.credentials.clientId,
    "--client-secret",
    "hunter2",
  ]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^error: Refusing --client-secret: a secret on the command line/);
  assert.equal(env.fake.requests().length, 0);
});

Deno.test("login with a bad key exits 8 and stores nothing", async () => {
  await using env = await syncEnv();
  const result = await env.run(["login", "--client-id", env.fake.credentials.clientId], {
    env: { ROSTER_CLIENT_SECRET: "not-the-secret" },
  });
  assert.equal(result.code, 8);
  assert.match(
    result.stderr,
    /^error: Cannot log in to Bitwarden: the organization API key was refused \(invalid_client\)\n/,
  );
  assert.ok(!result.stderr.includes("not-the-secret"));
  const status = doc((await env.run(["status", "--output", "json"])).stdout);
  assert.deepEqual(status["auth"], { loggedIn: false, organizationId: null });
});

Deno.test("logout forgets the key but keeps the sync state; sync then exits 8", async () => {
  await using env = await syncEnv({ users: users(2) });
  await env.login();
  assert.equal((await env.run(["sync"])).code, 0);
  const logout = await env.run(["logout"]);
  assert.equal(logout.code, 0);
  assert.equal(
    logout.stdout,
    `Logged out: forgot the API key of organization ${env.fake.organizationId} (the sync state is kept)\n`,
  );
  const sync = await env.run(["sync"]);
  assert.equal(sync.code, 8);
  assert.match(sync.stderr, /^error: Not logged in to Bitwarden/m);
  assert.match(sync.stderr, /hint: Run roster login/);
  const lastSync = await env.run(["last-sync", "users"]);
  assert.match(lastSync.stdout, /^\d{4}-\d\d-\d\dT/);
  const again = await env.run(["logout"]);
  assert.equal(again.stdout, "Not logged in: there was no API key to forget\n");
});

Deno.test("login <secret> is a usage error that does not repeat the secret", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["login", "0123456789abcdefSECRET"]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    "error: Too many arguments for 'login'. Expected 0 arguments but got 1 (the arguments are not shown)\n" +
      "hint: roster login takes the client secret from ROSTER_CLIENT_SECRET (or BW_CLIENTSECRET), --client-secret-file FILE or stdin, never as an argument; if you typed the secret on the command line, rotate the organization's API key\n",
  );
  assert.equal(result.stdout, "");
  const json = await dir.run(["login", "--client-id", "x", "0123456789abcdefSECRET", "-o", "json"]);
  assert.equal(json.code, 2);
  assert.doesNotMatch(json.stdout + json.stderr, /0123456789abcdef/);
});
