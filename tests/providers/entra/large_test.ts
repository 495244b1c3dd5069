import assert from "node:assert/strict";
import { DirectoryError, SourceIncompleteError } from "../../../src/errors.ts";
import { generateTenant, type GraphTenantInit } from "../../fakes/graph.ts";
import { canonical, withEntra } from "./_env.ts";

const BIG = "00000000-0000-4000-8000-00000000b16b";

function bigTenant(): GraphTenantInit {
  const users = Array.from({ length: 3100 }, (_, i) => ({
    id: `10000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    userPrincipalName: `user${i}@contoso.com`,
    mail: `user${i}@contoso.com`,
  }));
  const groups = [
    { id: BIG, displayName: "Everyone", members: users.slice(0, 3000).map((u) => u.id) },
    ...Array.from({ length: 45 }, (_, g) => ({
      id: `20000000-0000-4000-8000-${String(g).padStart(12, "0")}`,
      displayName: `Team ${g}`,
      members: [users[g * 2]?.id ?? "", users[g * 2 + 1]?.id ?? ""],
    })),
  ];
  return { users, groups };
}

Deno.test("entra reads a 3,000-member group across member pages and batches", async () => {
  await withEntra({ tenant: bigTenant(), throttle: false }, async (env) => {
    const result = await env.read();
    const big = result.snapshot.groups.find((g) => g.externalId === BIG);
    assert.ok(big !== undefined);
    assert.equal(big.memberRefs.length, 3000);
    assert.deepEqual(
      [...big.memberRefs].sort(),
      Array.from(
        { length: 3000 },
        (_, i) => `10000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      ),
    );
    assert.equal(result.snapshot.groups.length, 46);
    assert.equal(result.snapshot.users.length, 3100);
    const requests = env.fake.requests();
    const bigPages = requests.filter((r) => r.path.startsWith(`/v1.0/groups/${BIG}/members?`));
    assert.equal(bigPages.length, 4, "999 + 999 + 999 + 3 members");
    assert.ok(
      bigPages.every((r) => r.batchItem !== undefined),
      "every member page went through $batch",
    );
    // 46 first pages in 3 batches (20, 20, 6), the 3 later pages in later batches.
    const counters = env.fake.counters();
    assert.equal(counters.batchItems, 46 + 3);
    assert.ok((counters.byRoute.batch ?? 0) >= 4 && (counters.byRoute.batch ?? 0) <= 6);
    assert.equal(counters.byRoute.users, 4, "3,100 users in pages of 999");
  });
});

Deno.test("entra ends a throttling storm with the exact directory and no storm of 429s", async () => {
  const tenant = generateTenant({ users: 1500, groups: 150, nestedFraction: 0.1, seed: 7 });
  let expected: ReturnType<typeof canonical> | undefined;
  await withEntra({ tenant, throttle: false }, async (env) => {
    expected = canonical((await env.read()).snapshot);
  });
  await withEntra(
    { tenant, throttle: { resourceUnits: 60, windowMs: 1000, retryAfter: "fractional" } },
    async (env) => {
      const result = await env.read();
      assert.deepEqual(canonical(result.snapshot), expected);
      const counters = env.fake.counters();
      assert.ok(counters.throttled > 0, "the limit was hit");
      // Before the first 429 the budget is unknown (slow start: two batches, then more); once
      // throttled, the reader sends per window only what the server answered, so at most a
      // third of the requests are refused, where answering a 429 with the same concurrency
      // gets most of them refused.
      assert.ok(
        counters.throttled * 3 <= counters.batchItems,
        `${counters.throttled} of ${counters.batchItems} member requests throttled`,
      );
    },
  );
});

const tenant1200 = () => generateTenant({ users: 1200, groups: 30, seed: 3 });

Deno.test("entra throws SourceIncompleteError when a users page keeps failing or is cut short", async () => {
  for (const kind of ["503", "truncate"] as const) {
    await withEntra({ tenant: tenant1200(), throttle: false }, async (env) => {
      env.fake.failNext(Infinity, kind, { path: /^\/v1\.0\/users\?.*skiptoken/ });
      await assert.rejects(env.read(), (error: unknown) => {
        assert.ok(error instanceof SourceIncompleteError, String(error));
        assert.match(error.message, /^Directory read incomplete: GET \/v1\.0\/users[ :]/);
        assert.match(error.hint ?? "", /^Nothing was sent/);
        return true;
      });
    });
  }
});

Deno.test("entra throws SourceIncompleteError when members inside $batch keep failing", async () => {
  await withEntra({ tenant: tenant1200(), throttle: false }, async (env) => {
    env.fake.failNext(Infinity, "503", { path: "/members", retryAfter: "1" });
    await assert.rejects(env.read(), (error: unknown) => {
      assert.ok(error instanceof SourceIncompleteError, String(error));
      assert.match(
        error.message,
        /^Directory read incomplete: GET \/v1\.0\/groups\/.+\/members answered 503/,
      );
      return true;
    });
  });
});

Deno.test("entra retries transient 503, 504 and dropped answers and still reads everything", async () => {
  let expected: ReturnType<typeof canonical> | undefined;
  await withEntra({ tenant: tenant1200(), throttle: false }, async (env) => {
    expected = canonical((await env.read()).snapshot);
  });
  await withEntra({ tenant: tenant1200(), throttle: false }, async (env) => {
    env.fake.failNext(2, "503", { path: /skiptoken/ });
    env.fake.failNext(2, "504", { path: "/members" });
    env.fake.failNext(1, "drop", { path: "$batch" });
    env.fake.failNext(1, "429", { path: "/members", retryAfter: "0.5" });
    const result = await env.read();
    assert.deepEqual(canonical(result.snapshot), expected);
  });
});

Deno.test("entra throws DirectoryError when Graph cannot be read before any data", async () => {
  await withEntra({ tenant: tenant1200(), throttle: false }, async (env) => {
    env.fake.failNext(Infinity, "503", { path: "/v1.0/" });
    await assert.rejects(env.read(), (error: unknown) => {
      assert.ok(error instanceof DirectoryError, String(error));
      assert.match(
        error.message,
        /^Cannot read Microsoft Graph: GET \/v1\.0\/(users|groups)\/delta answered 503/,
      );
      return true;
    });
  });
});
