/**
 * `roster test` and `roster sync` on `directory.type google`, end to end: the CLI in a
 * subprocess, configured with `roster config set` (the service-account JSON key file given with
 * `--secret-file`), against the fake Google Directory API and the fake Bitwarden server.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type FakeGoogle, type FakeGoogleOptions, startFakeGoogle } from "../fakes/google.ts";
import { doc, type SyncEnv, syncEnv } from "./_sync_env.ts";

interface GoogleCliEnv extends AsyncDisposable {
  env: SyncEnv;
  google: FakeGoogle;
}

/** Both fakes, a logged-in data directory, and `directory.google.*` set through the CLI. */
async function googleCli(
  options: {
    fake?: FakeGoogleOptions;
    secret?: "keyFile" | "compactKeyFile" | "pem";
    sync?: unknown;
  } = {},
): Promise<GoogleCliEnv> {
  const google = await startFakeGoogle(options.fake ?? {});
  const env = await syncEnv();
  await env.writeConfig({
    directory: { type: "file", file: { path: env.directoryPath } },
    ...(options.sync === undefined ? {} : { sync: options.sync }),
  });
  await env.login();
  const keyPath = join(env.root, options.secret === "pem" ? "key.pem" : "key.json");
  const { keyFile, privateKey } = google.serviceAccount;
  await Deno.writeTextFile(
    keyPath,
    options.secret === "pem"
      ? privateKey
      : options.secret === "compactKeyFile"
      ? JSON.stringify(JSON.parse(keyFile))
      : keyFile,
  );
  const settings: [string, string][] = [
    ["directory.type", "google"],
    ["directory.google.adminUser", google.adminUser],
    ["directory.google.apiUrl", google.url],
    ["directory.google.tokenUrl", google.tokenUrl],
  ];
  for (const [key, value] of settings) {
    const set = await env.run(["-q", "config", "set", key, value]);
    assert.equal(set.code, 0, `${key}: ${set.stderr}`);
  }
  const secret = await env.run([
    "-q",
    "config",
    "set",
    "directory.google.privateKey",
    "--secret-file",
    keyPath,
  ]);
  assert.equal(secret.code, 0, secret.stderr);
  return {
    env,
    google,
    async [Symbol.asyncDispose]() {
      await google.stop();
      await env[Symbol.asyncDispose]();
    },
  };
}

Deno.test("roster test and sync read Google Workspace with the JSON key file as the secret", async () => {
  await using cli = await googleCli();
  const { env } = cli;
  const test = await env.run(["test", "--output", "json"]);
  assert.equal(test.code, 0, test.stderr);
  assert.deepEqual(doc(test.stdout)["summary"], {
    users: 6,
    enabled: 3,
    disabled: 2,
    deleted: 1,
    groups: 3,
    memberships: 8,
    skipped: 1,
    unresolved: 0,
    refused: 0,
  });

  const sync = await env.run(["sync"]);
  assert.equal(sync.code, 0, sync.stderr);
  assert.deepEqual(env.emails(), [
    "admin@example.com",
    "alice@example.com",
    "bob@example.com",
    "carol@example.org",
    "dave@example.org",
    "owner@example.com",
  ]);
  const groups = env.fake.state().groups.map((g) => [g.name, g.memberIds.length]).sort();
  assert.deepEqual(groups, [["Engineering", 1], ["Everyone", 5], ["Sales", 2]]);
  assert.equal(env.imports().length, 1);

  // Plain sync asks for an incremental read: Google has none, so roster reads in full and says so.
  const again = await env.run(["sync"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stderr,
    /Google: reading the whole directory \(the Directory API has no change feed/,
  );
  assert.equal(env.imports().length, 1, "nothing changed, nothing sent");
});

Deno.test("roster sync exits 5 and sends nothing when a Google page keeps failing", async () => {
  await using cli = await googleCli({
    fake: {
      directory: {
        users: [
          { id: "1", primaryEmail: "admin@example.com", isAdmin: true },
          ...Array.from({ length: 600 }, (_, i) => ({ primaryEmail: `u${i}@example.com` })),
        ],
        groups: [],
      },
    },
  });
  // Retry-After: 0 lets the retries run without waiting; the page fails every time.
  cli.google.failNext(Infinity, "503", { path: "/users", page: 2, retryAfterSeconds: 0 });
  const result = await cli.env.run(["sync"]);
  assert.equal(result.code, 5, result.stderr);
  assert.match(
    result.stderr,
    /^error: Google directory read incomplete: listing (users|deleted users) failed: GET \/admin\/directory\/v1\/users answered 503 Service Unavailable: backendError: The service is currently unavailable \(8 attempts in /m,
  );
  assert.match(result.stderr, /^hint: Nothing was sent/m);
  assert.equal(cli.env.imports().length, 0);
  assert.deepEqual(cli.env.emails(), ["owner@example.com"]);
});

Deno.test("roster test exits 6 naming the client id and scopes when delegation is missing", async () => {
  await using cli = await googleCli({ fake: { delegatedScopes: null, clientId: "118000" } });
  const result = await cli.env.run(["test"]);
  assert.equal(result.code, 6, result.stderr);
  assert.match(
    result.stderr,
    /^error: Google refused domain-wide delegation for roster-sync@roster-test\.iam\.gserviceaccount\.com: POST \/token answered 401 Unauthorized: unauthorized_client/m,
  );
  assert.match(
    result.stderr,
    /^hint: In the Google Admin console \(admin\.google\.com\): Security > Access and data control > API controls > Domain-wide delegation, add or edit client ID 118000 .* https:\/\/www\.googleapis\.com\/auth\/admin\.directory\.user\.readonly,https:\/\/www\.googleapis\.com\/auth\/admin\.directory\.group\.readonly,https:\/\/www\.googleapis\.com\/auth\/admin\.directory\.group\.member\.readonly$/m,
  );
});

Deno.test("roster test exits 2 naming clientEmail when the secret is a bare PEM without it", async () => {
  await using cli = await googleCli({ secret: "pem" });
  const result = await cli.env.run(["test"]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /^error: Directory configuration incomplete: directory\.google\.clientEmail is not set$/m,
  );
  const status = await cli.env.run(["status", "--output", "json"]);
  assert.deepEqual(doc(status.stdout)["directory"], {
    type: "google",
    source: `Google Workspace as ${cli.google.adminUser} (every domain)`,
    missing: ["directory.google.clientEmail"],
  });
  assert.equal(
    (await cli.env.run([
      "-q",
      "config",
      "set",
      "directory.google.clientEmail",
      cli.google.serviceAccount.clientEmail,
    ])).code,
    0,
  );
  const test = await cli.env.run(["test", "--output", "json"]);
  assert.equal(test.code, 0, test.stderr);
});

Deno.test("roster test takes a one-line JSON key file, whose \\n escapes stay JSON's", async () => {
  await using cli = await googleCli({
    secret: "compactKeyFile",
    sync: { userFilter: "exclude:admin@example.com|isSuspended=false" },
  });
  const result = await cli.env.run(["test", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(doc(result.stdout)["summary"], {
    users: 4,
    enabled: 2,
    disabled: 1,
    deleted: 1,
    groups: 3,
    memberships: 6, // Sales 2 (alice, dave through Engineering), Engineering 1, Everyone 3
    skipped: 1,
    unresolved: 0,
    refused: 0,
  });
});
