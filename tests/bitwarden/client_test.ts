import assert from "node:assert/strict";
import {
  BitwardenClient,
  type BitwardenClientOptions,
  resolveServerUrls,
} from "../../src/bitwarden/client.ts";
import {
  BitwardenAuthError,
  BitwardenRejectedError,
  BitwardenUnavailableError,
  ConfigError,
  SeatLimitError,
} from "../../src/errors.ts";
import type { ImportRequest } from "../../src/engine/types.ts";
import { type FakeBitwarden, type FakeOptions, startFakeBitwarden } from "../fakes/bitwarden.ts";
import { type VirtualClock, virtualClock } from "../fakes/_clock.ts";

interface Harness {
  fake: FakeBitwarden;
  client: BitwardenClient;
  clock: VirtualClock;
  logs: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

async function harness(
  fakeOptions: FakeOptions = {},
  clientOptions: Partial<BitwardenClientOptions> = {},
): Promise<Harness> {
  const clock = virtualClock();
  const fake = await startFakeBitwarden({ now: clock.now, ...fakeOptions });
  const logs: string[] = [];
  const client = new BitwardenClient({
    urls: resolveServerUrls(fake.serverConfig),
    apiKey: fake.credentials,
    deviceIdentifier: "3f1c0b8e-0000-4000-8000-000000000001",
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    log: (level, msg) => logs.push(`${level}: ${msg}`),
    ...clientOptions,
  });
  return {
    fake,
    client,
    clock,
    logs,
    async [Symbol.asyncDispose]() {
      client.close();
      await fake.close();
    },
  };
}

function importOf(
  members: { email: string | null; externalId: string; deleted?: boolean }[],
  groups: { name: string; externalId: string; memberExternalIds: string[] }[] = [],
  flags: Partial<Pick<ImportRequest, "overwriteExisting" | "largeImport">> = {},
): ImportRequest {
  return {
    groups,
    members: members.map((m) => ({
      email: m.email,
      externalId: m.externalId,
      deleted: m.deleted ?? false,
    })),
    overwriteExisting: flags.overwriteExisting ?? false,
    largeImport: flags.largeImport ?? false,
    inviteUsersAfterProvisioning: false,
  };
}

function paths(fake: FakeBitwarden): string[] {
  return fake.requests().map((r) => `${r.method} ${r.path} ${r.status}`);
}

Deno.test("login() gets a token and returns the organization id and expiry", async () => {
  await using h = await harness();
  const result = await h.client.login();
  assert.deepEqual(result, {
    organizationId: h.fake.organizationId,
    expiresAt: h.clock.now() + 3600_000,
  });
  assert.deepEqual(paths(h.fake), ["POST /identity/connect/token 200"]);
});

Deno.test("login() sends the device fields Vaultwarden requires", async () => {
  await using h = await harness({ mode: "vaultwarden" });
  const result = await h.client.login();
  assert.equal(result.organizationId, h.fake.organizationId);
});

Deno.test("login() with a refused key throws BitwardenAuthError invalid_client with a hint", async () => {
  await using h = await harness();
  const client = new BitwardenClient({
    urls: resolveServerUrls(h.fake.serverConfig),
    apiKey: { clientId: h.fake.credentials.clientId, clientSecret: "wrong-secret" },
    deviceIdentifier: "d",
    now: h.clock.now,
    sleep: h.clock.sleep,
  });
  const error = await client.login().then(() => null, (e: unknown) => e);
  assert.ok(error instanceof BitwardenAuthError);
  assert.equal(
    error.message,
    "Cannot log in to Bitwarden: the organization API key was refused (invalid_client)",
  );
  assert.match(error.hint ?? "", /client id and secret/);
  assert.equal(error.exitCode, 8);
  assert.equal(client.stats().retries, 0);
});

Deno.test("login() on Vaultwarden with a wrong secret names Vaultwarden's reason", async () => {
  await using h = await harness({ mode: "vaultwarden" });
  const client = new BitwardenClient({
    urls: resolveServerUrls(h.fake.serverConfig),
    apiKey: { clientId: h.fake.credentials.clientId, clientSecret: "nope" },
    deviceIdentifier: "d",
  });
  await assert.rejects(client.login(), {
    name: "BitwardenAuthError",
    message:
      "Cannot log in to Bitwarden: the organization API key was refused (Incorrect client_secret)",
  });
});

Deno.test("BitwardenClient refuses a client id that is not organization.<uuid>", () => {
  assert.throws(
    () =>
      new BitwardenClient({
        urls: resolveServerUrls({}),
        apiKey: { clientId: "user.1234", clientSecret: "s" },
        deviceIdentifier: "d",
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message ===
        'Invalid Bitwarden client id "user.1234": expected organization.<organization id>',
  );
});

Deno.test("the token is cached and renewed a minute before it expires", async () => {
  await using h = await harness();
  await h.client.listMembers();
  h.clock.advance(3600_000 - 61_000);
  await h.client.listMembers();
  h.clock.advance(2_000);
  await h.client.listMembers();
  assert.deepEqual(paths(h.fake), [
    "POST /identity/connect/token 200",
    "GET /api/public/members 200",
    "GET /api/public/members 200",
    "POST /identity/connect/token 200",
    "GET /api/public/members 200",
  ]);
});

Deno.test("a 401 gets one fresh token and one retry", async () => {
  await using h = await harness();
  await h.client.login();
  h.fake.expireTokens();
  const members = await h.client.listMembers();
  assert.equal(members?.length, 1);
  assert.deepEqual(paths(h.fake), [
    "POST /identity/connect/token 200",
    "GET /api/public/members 401",
    "POST /identity/connect/token 200",
    "GET /api/public/members 200",
  ]);
});

Deno.test("a 401 with a fresh token too throws BitwardenAuthError", async () => {
  const spoil: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    if (headers.has("authorization")) headers.set("authorization", "Bearer spoiled");
    return fetch(input, { ...init, headers });
  };
  await using h = await harness({}, { fetch: spoil });
  await assert.rejects(h.client.listMembers(), {
    name: "BitwardenAuthError",
    message:
      "Bitwarden refused the access token: GET /public/members answered 401 Unauthorized, also with a new token",
  });
  assert.equal(h.fake.requests().filter((r) => r.status === 401).length, 2);
});

Deno.test("a 403 throws BitwardenAuthError about the scope", async () => {
  const holder: { fake?: FakeBitwarden } = {};
  const otherScope: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    if (headers.has("authorization") && holder.fake !== undefined) {
      headers.set("authorization", `Bearer ${holder.fake.mintToken({ scope: "api" })}`);
    }
    return fetch(input, { ...init, headers });
  };
  await using h = await harness({}, { fetch: otherScope });
  holder.fake = h.fake;
  const error = await h.client.importOrganization(importOf([])).then(() => null, (e) => e);
  assert.ok(error instanceof BitwardenAuthError);
  assert.equal(
    error.message,
    "Bitwarden refused access: POST /public/organization/import answered 403 Forbidden with an empty body",
  );
  assert.match(error.hint ?? "", /api\.organization scope/);
});

Deno.test("importOrganization() sends camelCase JSON with every array and flag, and the headers", async () => {
  const seen: { url: string; headers: Headers; body: string }[] = [];
  const spy: typeof fetch = async (input, init) => {
    seen.push({
      url: String(input),
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : "",
    });
    return await fetch(input, init);
  };
  await using h = await harness({}, { fetch: spy });
  await h.client.importOrganization(
    importOf([{ email: "a@x.test", externalId: "a" }, {
      email: null,
      externalId: "z",
      deleted: true,
    }], [
      { name: "G", externalId: "g", memberExternalIds: [] },
    ]),
  );
  const [tokenRequest, importRequest] = seen;
  assert.ok(tokenRequest !== undefined && importRequest !== undefined);
  const form = new URLSearchParams(tokenRequest.body);
  assert.deepEqual([...form.keys()], [
    "scope",
    "client_id",
    "deviceType",
    "deviceIdentifier",
    "deviceName",
    "grant_type",
    "client_secret",
  ]);
  assert.equal(form.get("scope"), "api.organization");
  assert.equal(
    importRequest.body,
    '{"groups":[{"name":"G","externalId":"g","memberExternalIds":[]}],"members":[{"email":"a@x.test","externalId":"a","deleted":false},{"email":null,"externalId":"z","deleted":true}],"overwriteExisting":false,"largeImport":false,"inviteUsersAfterProvisioning":false}',
  );
  assert.equal(importRequest.headers.get("content-type"), "application/json; charset=utf-8");
  assert.match(importRequest.headers.get("user-agent") ?? "", /^roster\/\d+\.\d+\.\d+/);
  assert.match(importRequest.headers.get("authorization") ?? "", /^Bearer fake\./);
  assert.deepEqual(h.fake.events(), [
    { type: "member_invited", email: "a@x.test", externalId: "a", status: 0 },
    { type: "group_created", name: "G", externalId: "g" },
  ]);
});

Deno.test("a 429 storm ends in success, waiting as Retry-After says", async () => {
  await using h = await harness();
  await h.client.login();
  h.fake.failNext(2, "html429", { retryAfter: "7" });
  const date = new Date(h.clock.now() + 14_000 + 30_000).toUTCString();
  h.fake.failNext(1, "html429", { retryAfter: date });
  await h.client.importOrganization(importOf([{ email: "a@x.test", externalId: "a" }]));
  assert.deepEqual(h.clock.sleeps, [7_000, 7_000, 30_000]);
  assert.deepEqual(h.client.stats(), { requests: 5, retries: 3, rateLimited: 3 });
  assert.equal(h.fake.state().members.length, 2);
});

Deno.test("the fake's own rate limit is honoured: the sixth POST in a second waits", async () => {
  await using h = await harness({ rateLimits: true });
  for (let i = 0; i < 6; i++) await h.client.importOrganization(importOf([]));
  assert.deepEqual(h.clock.sleeps, [1_000]);
  assert.deepEqual(h.client.stats(), { requests: 8, retries: 1, rateLimited: 1 });
});

Deno.test("a Retry-After beyond the bound gives BitwardenUnavailableError at once", async () => {
  await using h = await harness();
  h.fake.failNext(1, "html429", { retryAfter: "3600", path: "/public/members" });
  const error = await h.client.listMembers().then(() => null, (e) => e);
  assert.ok(error instanceof BitwardenUnavailableError);
  assert.equal(
    error.message,
    "Bitwarden is unavailable: GET /public/members answered 429 Too Many Requests: HTML page Access denied | api.bitwarden.com used Cloudflare to restrict access, and asks to wait 3600.0 s (1 attempt in 0 ms)",
  );
  assert.deepEqual(h.clock.sleeps, []);
});

Deno.test("an HTML 502 then success: reads and the import are retried with backoff", async () => {
  await using h = await harness();
  h.fake.failNext(2, "html502", { path: "/public/members" });
  assert.equal((await h.client.listMembers())?.length, 1);
  h.fake.failNext(1, "html503", { path: "/import" });
  await h.client.importOrganization(importOf([{ email: "a@x.test", externalId: "a" }]));
  // Full jitter with random() = 0.5: half of 1 s, 2 s, then 1 s for the import's first retry.
  assert.deepEqual(h.clock.sleeps, [500, 1_000, 500]);
  assert.equal(h.client.stats().retries, 3);
  assert.match(
    h.logs.find((l) => l.startsWith("warn")) ?? "",
    /502 Bad Gateway: HTML page 502 Bad Gateway; retrying in 500 ms \(attempt 2 of 6\)/,
  );
});

Deno.test("reads keep failing: BitwardenUnavailableError after the attempt bound", async () => {
  await using h = await harness({}, { retry: { maxAttempts: 3 } });
  h.fake.failNext(5, "json500", { path: "/public/members" });
  await assert.rejects(h.client.listMembers(), {
    name: "BitwardenUnavailableError",
    message:
      "Bitwarden is unavailable: GET /public/members answered 500 Internal Server Error: An unhandled server error has occurred (3 attempts in 1.5 s)",
  });
});

Deno.test("a reset on a read is retried; a reset on the import is reported, never resent", async () => {
  await using h = await harness();
  await h.client.login();
  h.fake.failNext(1, "reset", { path: "/public/members" });
  assert.equal((await h.client.listMembers())?.length, 1);
  h.fake.failNext(1, "reset", { path: "/import" });
  const error = await h.client.importOrganization(
    importOf([{ email: "a@x.test", externalId: "a" }]),
  )
    .then(() => null, (e) => e);
  assert.ok(error instanceof BitwardenUnavailableError);
  assert.match(
    error.message,
    /^Bitwarden import outcome unknown: POST \/public\/organization\/import failed after the request was sent: /,
  );
  assert.equal(h.fake.requests().filter((r) => r.path.endsWith("/import")).length, 1);
});

Deno.test("an import 504 is not retried: the outcome is unknown", async () => {
  await using h = await harness();
  h.fake.failNext(1, "html504", { path: "/import" });
  await assert.rejects(h.client.importOrganization(importOf([])), {
    name: "BitwardenUnavailableError",
    message:
      "Bitwarden import outcome unknown: the server answered 504 Gateway Timeout: HTML page 504 Gateway Time-out",
  });
  assert.equal(h.fake.requests().filter((r) => r.path.endsWith("/import")).length, 1);
});

Deno.test("connection refused is retried, then BitwardenUnavailableError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const clock = virtualClock();
  const client = new BitwardenClient({
    urls: resolveServerUrls({ url: `http://127.0.0.1:${port}` }),
    apiKey: { clientId: `organization.${crypto.randomUUID()}`, clientSecret: "s" },
    deviceIdentifier: "d",
    now: clock.now,
    sleep: clock.sleep,
    random: () => 1,
    retry: { maxAttempts: 3 },
  });
  const error = await client.login().then(() => null, (e) => e);
  client.close();
  assert.ok(error instanceof BitwardenUnavailableError);
  assert.match(
    error.message,
    /^Bitwarden is unavailable: POST \/connect\/token failed: .*Connection refused.* \(3 attempts in 3\.0 s\)$/,
  );
  assert.deepEqual(clock.sleeps, [1_000, 2_000]);
});

Deno.test("an import 400 lists every validation error with the member or group it concerns", async () => {
  await using h = await harness();
  const error = await h.client.importOrganization(
    importOf([
      { email: "ok@x.test", externalId: "u1" },
      { email: "bad-email", externalId: "u2" },
    ], [{ name: "x".repeat(101), externalId: "cn=big,dc=x", memberExternalIds: [] }]),
  ).then(() => null, (e) => e);
  assert.ok(error instanceof BitwardenRejectedError);
  assert.equal(error.status, 400);
  assert.equal(
    error.message,
    "Bitwarden rejected the import: The request's model state is invalid\n" +
      `  - group "${
        "x".repeat(101)
      }" (externalId cn=big,dc=x), field name: The field Name must be a string with a maximum length of 100\n` +
      "  - member bad-email (externalId u2), field email: The Email field is not a valid e-mail address",
  );
  assert.equal(error.exitCode, 9);
});

Deno.test("plan errors are BitwardenRejectedError with a hint naming the setting", async () => {
  await using h = await harness({ org: { useGroups: false } });
  await assert.rejects(
    h.client.importOrganization(
      importOf([], [{ name: "G", externalId: "g", memberExternalIds: [] }]),
    ),
    (error: unknown) =>
      error instanceof BitwardenRejectedError &&
      error.message === "Bitwarden rejected the import: Organization cannot use groups" &&
      /sync\.groups/.test(error.hint ?? ""),
  );
});

Deno.test("seat errors become SeatLimitError: Teams Starter, seat limit, self-hosted", async () => {
  const ten = Array.from(
    { length: 10 },
    (_, i) => ({ email: `p${i}@x.test`, externalId: `p${i}` }),
  );
  {
    await using h = await harness({ org: { plan: "teams-starter" } });
    const error = await h.client.importOrganization(importOf(ten)).then(() => null, (e) => e);
    assert.ok(error instanceof SeatLimitError);
    assert.equal(
      error.message,
      "Bitwarden refused to invite new members: the plan does not allow additional seats (the import lists 10 active members)",
    );
    assert.match(error.hint ?? "", /Teams Starter organizations are capped at 10 members/);
    assert.equal(error.exitCode, 10);
  }
  {
    await using h = await harness({ org: { seats: 5, maxAutoscaleSeats: 5 } });
    await assert.rejects(h.client.importOrganization(importOf(ten)), {
      name: "SeatLimitError",
      message:
        "Bitwarden refused to invite new members: Seat limit has been reached (the import lists 10 active members)",
    });
  }
  {
    await using h = await harness({ selfHosted: true, org: { seats: 5 } });
    await assert.rejects(h.client.importOrganization(importOf(ten)), {
      name: "SeatLimitError",
      message:
        "Bitwarden refused to invite new members: the self-hosted organization has no free seats and cannot add seats by itself (the import lists 10 active members)",
    });
  }
});

Deno.test("reads on Vaultwarden answer null (404)", async () => {
  await using h = await harness({ mode: "vaultwarden" });
  assert.equal(await h.client.listMembers(), null);
  assert.equal(await h.client.readOrganization(), null);
  await h.client.importOrganization(importOf([{ email: "a@x.test", externalId: "a" }]));
  assert.equal(h.fake.state().members.length, 2);
});

Deno.test("readOrganization() maps members and groups with their member ids", async () => {
  await using h = await harness({
    members: [
      { email: "owner@x.test", type: 0 },
      { email: "a@x.test", externalId: "a", status: 0 },
      { email: "r@x.test", externalId: "r", status: -1, type: 4 },
    ],
    groups: [
      { name: "Linked", externalId: "g", memberEmails: ["a@x.test", "r@x.test"] },
      { name: "Manual", memberEmails: ["a@x.test"] },
    ],
  });
  const view = await h.client.readOrganization();
  const state = h.fake.state();
  const id = (email: string) => state.members.find((m) => m.email === email)?.id ?? "";
  assert.deepEqual(view, {
    members: [
      { id: id("owner@x.test"), email: "owner@x.test", externalId: null, status: 2, type: 0 },
      { id: id("a@x.test"), email: "a@x.test", externalId: "a", status: 0, type: 2 },
      { id: id("r@x.test"), email: "r@x.test", externalId: "r", status: -1, type: 4 },
    ],
    groups: [
      {
        id: state.groups[0]?.id,
        name: "Linked",
        externalId: "g",
        memberIds: [id("a@x.test"), id("r@x.test")],
      },
      { id: state.groups[1]?.id, name: "Manual", externalId: null, memberIds: [] },
    ],
  });
});

Deno.test("readOrganization() stays within the GET budget and the concurrency bound", async () => {
  const groups = Array.from({ length: 300 }, (_, i) => ({ name: `G${i}`, externalId: `g${i}` }));
  await using h = await harness({ rateLimits: true, groups }, {
    readConcurrency: 4,
    maxRequestsPerMinute: 180,
  });
  const view = await h.client.readOrganization();
  assert.equal(view?.groups.length, 300);
  assert.equal(h.fake.requests().filter((r) => r.status === 429).length, 0);
  assert.equal(h.client.stats().rateLimited, 0);
  assert.ok(h.fake.peakConcurrency() <= 4, `peak ${h.fake.peakConcurrency()}`);
  assert.ok(h.clock.sleeps.length > 0);
  // No 60 s window (by the shared clock) holds more than 180 GETs.
  const times = h.fake.requests().filter((r) => r.method === "GET").map((r) => r.at);
  for (const start of times) {
    assert.ok(times.filter((t) => t >= start && t < start + 60_000).length <= 180);
  }
});

Deno.test("the hosts layout (separate identity and API servers) works end to end", async () => {
  await using h = await harness({ layout: "hosts" });
  await h.client.importOrganization(importOf([{ email: "a@x.test", externalId: "a" }]));
  assert.deepEqual(h.fake.requests().map((r) => `${r.server} ${r.path}`), [
    "identity /connect/token",
    "api /public/organization/import",
  ]);
});

Deno.test("a self-hosted server has no GET budget unless server.maxRequestsPerMinute sets one", async () => {
  const groups = Array.from({ length: 200 }, (_, i) => ({ name: `G${i}`, externalId: `g${i}` }));
  await using h = await harness({ groups }, { readConcurrency: 4 });
  await h.client.readOrganization();
  assert.deepEqual(h.clock.sleeps, []);
  await using limited = await harness({ groups }, { readConcurrency: 4, maxRequestsPerMinute: 50 });
  await limited.client.readOrganization();
  // 202 GETs at 50 a minute: four full windows are waited for.
  assert.equal(limited.clock.sleeps.length, 4);
});

Deno.test("readOrganization() reports progress: objects read, requests and waits", async () => {
  const groups = Array.from({ length: 5 }, (_, i) => ({ name: `G${i}`, externalId: `g${i}` }));
  const seen: { objects: number; requests: number; throttleWaits: number; done?: boolean }[] = [];
  await using h = await harness({ groups, members: [{ email: "a@x.test", externalId: "a" }] }, {
    readConcurrency: 1,
    maxRequestsPerMinute: 3,
    onProgress: (p) => seen.push(p),
  });
  await h.client.readOrganization();
  assert.deepEqual(seen.map((p) => p.objects), [1, 2, 3, 4, 5, 6, 6]);
  assert.deepEqual(seen.map((p) => p.requests), [3, 4, 5, 6, 7, 8, 8]);
  assert.deepEqual(seen.map((p) => p.done === true), [
    false,
    false,
    false,
    false,
    false,
    false,
    true,
  ]);
  // Three GETs a minute: the lists and G0 fill the first window, G1–G3 the second, G4 the third.
  assert.deepEqual(seen.map((p) => p.throttleWaits), [0, 0, 1, 1, 1, 2, 2]);
});

Deno.test("a redirect is reported with its target, never followed", async () => {
  const target = "https://vault.example.test/api";
  const redirecting: typeof fetch = (input, init) => {
    const url = String(input);
    if (url.endsWith("/public/organization/import")) {
      return Promise.resolve(
        new Response(null, {
          status: 301,
          headers: { location: `${target}/public/organization/import` },
        }),
      );
    }
    return fetch(input, init);
  };
  await using h = await harness({}, { fetch: redirecting });
  const error = await h.client.importOrganization(importOf([])).then(() => null, (e) => e);
  assert.ok(error instanceof BitwardenUnavailableError);
  assert.equal(
    error.message,
    `Bitwarden answered POST /public/organization/import with a redirect: 301 Moved Permanently to ${target}/public/organization/import`,
  );
  assert.equal(
    error.hint,
    `roster does not follow redirects: if ${target}/public/organization/import is the server's real address, set server.url (or server.api and server.identity) to it`,
  );
  assert.equal(h.fake.requests().filter((r) => r.path.endsWith("/import")).length, 0);
});

Deno.test("a 429 give-up says the rate limit, not that the server is down", async () => {
  await using h = await harness({}, { retry: { maxAttempts: 2 } });
  h.fake.failNext(2, "html429", { retryAfter: "5", path: "/public/members" });
  const error = await h.client.listMembers().then(() => null, (e) => e);
  assert.ok(error instanceof BitwardenUnavailableError);
  assert.match(
    error.message,
    /^Bitwarden is unavailable: GET \/public\/members answered 429 Too Many Requests: .* \(2 attempts in 5\.0 s\)$/,
  );
  assert.equal(
    error.hint,
    "Bitwarden kept answering 429 Too Many Requests: another client may share the organization's rate limit. Run again in a few minutes, or lower server.maxRequestsPerMinute",
  );
});
