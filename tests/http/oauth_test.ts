import assert from "node:assert/strict";
import { readAccessToken, TokenCache } from "../../src/http/oauth.ts";

Deno.test("readAccessToken() reads expires_in as seconds, from a number or a string of digits", () => {
  assert.deepEqual(readAccessToken({ access_token: "t", expires_in: 3600 }), {
    token: "t",
    lifetimeMs: 3_600_000,
  });
  assert.deepEqual(readAccessToken({ access_token: "t", expires_in: "60" }), {
    token: "t",
    lifetimeMs: 60_000,
  });
});

Deno.test("readAccessToken() returns null without a token, or without a lifetime and no default", () => {
  assert.equal(readAccessToken({ expires_in: 3600 }), null);
  assert.equal(readAccessToken({ access_token: "", expires_in: 3600 }), null);
  assert.equal(readAccessToken({ access_token: "t" }), null);
  assert.equal(readAccessToken("t"), null);
  assert.deepEqual(readAccessToken({ access_token: "t" }, { defaultLifetimeMs: 5 }), {
    token: "t",
    lifetimeMs: 5,
  });
});

Deno.test("TokenCache.get() shares one fetch between concurrent callers and renews at the margin", async () => {
  let clock = 0;
  let fetches = 0;
  const cache = new TokenCache(() => {
    fetches++;
    return Promise.resolve({ token: `t${fetches}`, lifetimeMs: 1000_000, issuedAt: clock });
  }, { marginMs: 300_000, now: () => clock });
  assert.deepEqual(await Promise.all([cache.get(), cache.get()]), ["t1", "t1"]);
  clock = 699_999;
  assert.equal(await cache.get(), "t1");
  clock = 700_000;
  assert.equal(await cache.get(), "t2");
  cache.invalidate();
  assert.equal(await cache.get(), "t3");
  assert.equal(fetches, 3);
});

Deno.test("TokenCache caps the margin at maxMarginFraction of the lifetime", async () => {
  let clock = 0;
  let fetches = 0;
  const cache = new TokenCache(() => {
    fetches++;
    return Promise.resolve({ token: `t${fetches}`, lifetimeMs: 100_000, issuedAt: clock });
  }, { marginMs: 300_000, maxMarginFraction: 0.1, now: () => clock });
  await cache.get();
  clock = 89_999;
  assert.equal(await cache.get(), "t1");
  clock = 90_000;
  assert.equal(await cache.get(), "t2");
});

Deno.test("TokenCache.get() caches nothing after a failed fetch", async () => {
  let fetches = 0;
  const cache = new TokenCache(() => {
    fetches++;
    return fetches === 1
      ? Promise.reject(new Error("refused"))
      : Promise.resolve({ token: "t", lifetimeMs: 1000_000, issuedAt: 0 });
  }, { marginMs: 1000, now: () => 0 });
  await assert.rejects(cache.get(), /refused/);
  assert.equal(await cache.get(), "t");
});
