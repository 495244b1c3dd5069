import assert from "node:assert/strict";
import { ConfigError } from "../../../src/errors.ts";
import { SOURCES } from "../../../src/providers/registry.ts";
import { emails, withEntra } from "./_env.ts";
import { ID, TENANT } from "./_tenant.ts";

/** Reads TENANT with the filters and returns the handling, synced emails and group names. */
async function filtered(sync: Record<string, unknown>) {
  let out: { handling: string; emails: string[]; groups: string[] } | undefined;
  await withEntra({ tenant: TENANT }, async (env) => {
    const config = env.config({ sync });
    const data = env.engine(await env.read({ config }), config);
    out = {
      handling: SOURCES.entra.filters(config),
      emails: emails(data),
      groups: data.groups.map((g) => g.name).sort(),
    };
  });
  assert.ok(out !== undefined);
  return out;
}

const ALL_GROUPS = ["Empty", "Engineering", "Ops"];

Deno.test("entra include:/exclude: user filters are left to the engine", async () => {
  assert.deepEqual(await filtered({ userFilter: "include:Alice@contoso.com" }), {
    handling: "engine",
    emails: ["alice@contoso.com"],
    groups: ALL_GROUPS,
  });
  assert.deepEqual(await filtered({ userFilter: "exclude:bob@contoso.com,gus@example.org" }), {
    handling: "engine",
    emails: ["alice@contoso.com", "carol@contoso.com", "dave@contoso.com", "erin@contoso.com"],
    groups: ALL_GROUPS,
  });
});

Deno.test("entra includeGroup:/excludeGroup: keep or drop transitive members, deleted users kept", async () => {
  assert.deepEqual(await filtered({ userFilter: `includeGroup:${ID.ops}` }), {
    handling: "provider",
    emails: ["alice@contoso.com", "bob@contoso.com", "carol@contoso.com", "erin@contoso.com"],
    groups: ALL_GROUPS,
  });
  assert.deepEqual(await filtered({ userFilter: `excludeGroup:${ID.eng}` }), {
    handling: "provider",
    emails: ["dave@contoso.com", "erin@contoso.com", "gus@example.org"],
    groups: ALL_GROUPS,
  });
  assert.deepEqual(
    await filtered({ userFilter: `includeGroup:${ID.ops} | exclude:alice@contoso.com` }),
    {
      handling: "provider",
      emails: ["bob@contoso.com", "carol@contoso.com", "erin@contoso.com"],
      groups: ALL_GROUPS,
    },
  );
});

Deno.test("entra group name filters keep the groups and their direct user members", async () => {
  assert.deepEqual(await filtered({ groupFilter: "include:engineering" }), {
    handling: "engine",
    emails: ["alice@contoso.com", "bob@contoso.com", "erin@contoso.com"],
    groups: ["Engineering"],
  });
  assert.deepEqual(await filtered({ groupFilter: "exclude:Ops,Empty" }), {
    handling: "engine",
    emails: ["alice@contoso.com", "bob@contoso.com", "erin@contoso.com"],
    groups: ["Engineering"],
  });
});

Deno.test("entra administrative-unit filters select groups by unit membership", async () => {
  assert.deepEqual(await filtered({ groupFilter: `includeAdministrativeUnit:${ID.unit}` }), {
    handling: "provider",
    emails: ["carol@contoso.com", "erin@contoso.com"],
    groups: ["Ops"],
  });
  assert.deepEqual(
    await filtered({
      groupFilter: `includeAdministrativeUnit:${ID.unit}`,
      removeDisabled: true,
    }),
    {
      handling: "provider",
      emails: ["carol@contoso.com", "dave@contoso.com", "erin@contoso.com"],
      groups: ["Ops"],
    },
  );
  assert.deepEqual(await filtered({ groupFilter: `excludeAdministrativeUnit:${ID.unit}` }), {
    handling: "provider",
    emails: ["alice@contoso.com", "bob@contoso.com", "erin@contoso.com"],
    groups: ["Empty", "Engineering"],
  });
  assert.deepEqual(
    await filtered({ groupFilter: `include:Engineering|includeAdministrativeUnit:${ID.unit}` }),
    { handling: "provider", emails: ["erin@contoso.com"], groups: [] },
  );
});

Deno.test("entra filters are checked before any request: a malformed clause is a ConfigError", async () => {
  await withEntra({ tenant: TENANT }, async (env) => {
    for (
      const [sync, message] of [
        [
          { userFilter: "includeGroup:engineering" },
          'Malformed clause in sync.userFilter: "includeGroup:engineering" has "engineering", which is not an object id',
        ],
        [
          { groupFilter: "include:Ops|bogus" },
          'Malformed clause in sync.groupFilter: "bogus" has no keyword',
        ],
        [
          { userFilter: "includeUnit:x" },
          'Malformed clause in sync.userFilter: "includeUnit:x" has the unknown keyword "includeUnit"',
        ],
      ] as const
    ) {
      const config = env.config({ sync });
      assert.throws(() => SOURCES.entra.validateFilters(config), { message });
      await assert.rejects(env.read({ config }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, message);
        return true;
      });
    }
    assert.equal(env.fake.counters().requests, 0);
  });
});

Deno.test("entra includeGroup: naming a group that does not exist is a ConfigError naming it", async () => {
  const missing = "99999999-9999-4999-8999-999999999999";
  await withEntra({ tenant: TENANT }, async (env) => {
    await assert.rejects(
      env.read({ config: env.config({ sync: { userFilter: `includeGroup:${missing}` } }) }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(
          error.message,
          `Invalid sync.userFilter: there is no group ${missing} in the tenant`,
        );
        return true;
      },
    );
  });
});

Deno.test("entra reads in full when the filters need the whole directory, and says so", async () => {
  await withEntra({ tenant: TENANT }, async (env) => {
    const config = env.config({ sync: { userFilter: `includeGroup:${ID.ops}` } });
    const full = await env.read({ config });
    assert.equal(full.state, undefined);
    const again = await env.read({
      config,
      mode: "incremental",
      state: { usersDeltaLink: "x", groupsDeltaLink: "y" },
    });
    assert.equal(again.incremental, false);
    assert.deepEqual(again.notices.map((n) => n.code), ["fullReadInstead"]);
    assert.equal(again.snapshot.users.length, full.snapshot.users.length);
  });
});
