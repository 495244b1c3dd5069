import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { createHttpClient } from "../../../src/http/mod.ts";
import { parseServiceAccountKey } from "../../../src/providers/google/key.ts";
import { createTokenSource, GOOGLE_SCOPES } from "../../../src/providers/google/token.ts";
import { virtualClock } from "../../fakes/_clock.ts";
import { GOOGLE_READONLY_SCOPES, startFakeGoogle } from "../../fakes/google.ts";

Deno.test("GOOGLE_SCOPES are exactly the three read-only Directory API scopes", () => {
  assert.deepEqual([...GOOGLE_SCOPES], [...GOOGLE_READONLY_SCOPES]);
});

Deno.test("createTokenSource() signs the JWT-bearer assertion Google expects and caches the token", async () => {
  const clock = virtualClock();
  await using fake = await startFakeGoogleDisposable({ now: clock.now });
  const http = createHttpClient();
  try {
    const key = parseServiceAccountKey(fake.serviceAccount.keyFile);
    const source = createTokenSource(http, {
      key,
      subject: fake.adminUser,
      tokenUrl: fake.tokenUrl,
      now: clock.now,
      sleep: clock.sleep,
    });
    const first = await source.token();
    assert.match(first, /^ya29\.fake-/);
    assert.equal(await source.token(), first);
    assert.equal(source.requests, 1);

    const token = fake.requests().find((r) => r.path === "/token");
    assert.equal(token?.status, 200);

    // 5 minutes before expiry (3599 s) a new token is fetched.
    clock.advance((3599 - 300 - 1) * 1000);
    assert.equal(await source.token(), first);
    clock.advance(2000);
    const second = await source.token();
    assert.notEqual(second, first);
    assert.equal(source.requests, 2);

    source.invalidate();
    assert.notEqual(await source.token(), second);
    assert.equal(source.requests, 3);
  } finally {
    http.close();
  }
});

Deno.test("createTokenSource() puts iss, sub, the scopes, Google's aud and a one-hour exp in the assertion", async () => {
  const clock = virtualClock();
  const seen: string[] = [];
  const http = createHttpClient({
    fetch: (_input, init) => {
      seen.push(String(init?.body ?? ""));
      return Promise.resolve(
        new Response(JSON.stringify({ access_token: "t", expires_in: 3599 }), {
          headers: { "content-type": "application/json" },
        }),
      );
    },
  });
  await using fake = await startFakeGoogleDisposable({ now: clock.now });
  const key = parseServiceAccountKey(fake.serviceAccount.keyFile);
  const source = createTokenSource(http, {
    key,
    subject: "admin@example.com",
    tokenUrl: "http://127.0.0.1:9/token",
    now: clock.now,
  });
  assert.equal(await source.token(), "t");
  const form = new URLSearchParams(seen[0]);
  assert.equal(form.get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
  const assertion = form.get("assertion") ?? "";
  assert.deepEqual(decodeProtectedHeader(assertion), {
    alg: "RS256",
    typ: "JWT",
    kid: key.privateKeyId ?? "",
  });
  const iat = Math.floor(clock.now() / 1000);
  assert.deepEqual(decodeJwt(assertion), {
    scope: GOOGLE_SCOPES.join(" "),
    iss: "roster-sync@roster-test.iam.gserviceaccount.com",
    sub: "admin@example.com",
    aud: "https://oauth2.googleapis.com/token",
    iat,
    exp: iat + 3600,
  });
  http.close();
});

async function startFakeGoogleDisposable(options: { now: () => number }) {
  const fake = await startFakeGoogle(options);
  return Object.assign(fake, { [Symbol.asyncDispose]: () => fake.stop() });
}
