import assert from "node:assert/strict";
import type { ReadCounters } from "../../../src/output/progress.ts";
import { canonical, emails, memberships, withEntra } from "./_env.ts";
import { ID, TENANT } from "./_tenant.ts";

Deno.test("entra read() returns users, deleted users and groups with direct member refs", async () => {
  await withEntra({ tenant: TENANT }, async ({ fake, read }) => {
    const result = await read();
    assert.equal(result.incremental, false);
    assert.deepEqual(canonical(result.snapshot), {
      users: [
        {
          referenceId: ID.alice,
          externalId: ID.alice,
          email: "Alice@Contoso.com",
          disabled: false,
          deleted: false,
        },
        {
          referenceId: ID.bob,
          externalId: ID.bob,
          email: "bob@contoso.com",
          disabled: false,
          deleted: false,
        },
        {
          referenceId: ID.carol,
          externalId: ID.carol,
          email: "carol@contoso.com",
          disabled: false,
          deleted: false,
        },
        {
          referenceId: ID.dave,
          externalId: ID.dave,
          email: "dave@contoso.com",
          disabled: true,
          deleted: false,
        },
        {
          referenceId: ID.guestMail,
          externalId: ID.guestMail,
          email: "gus@example.org",
          disabled: false,
          deleted: false,
        },
        {
          referenceId: ID.erin,
          externalId: ID.erin,
          email: "erin@contoso.com",
          disabled: false,
          deleted: true,
        },
      ].sort((a, b) => a.externalId.localeCompare(b.externalId)),
      groups: [
        { referenceId: ID.empty, externalId: ID.empty, name: "Empty", memberRefs: [] },
        {
          referenceId: ID.eng,
          externalId: ID.eng,
          name: "Engineering",
          memberRefs: [ID.alice, ID.bob, ID.guestNoMail, ID.ops].sort(),
        },
        {
          referenceId: ID.ops,
          externalId: ID.ops,
          name: "Ops",
          memberRefs: [ID.carol, ID.eng].sort(),
        },
      ].sort((a, b) => a.externalId.localeCompare(b.externalId)),
      skipped: [],
    });
    assert.deepEqual(
      result.snapshot.skipped.map((s) => [s.referenceId, s.reason]).sort(),
      [
        [ID.contact, `member of group ${ID.eng} is an organizational contact, not a user or group`],
        [ID.device, `member of group ${ID.eng} is a device, not a user or group`],
        [
          ID.guestNoMail,
          "guest without a mail address (userPrincipalName gina_example.org#EXT#@contoso.onmicrosoft.com)",
        ],
      ].sort(),
    );
    assert.deepEqual(Object.keys(result.state ?? {}).sort(), ["groupsDeltaLink", "usersDeltaLink"]);
    const counters = fake.counters();
    assert.equal(counters.tokenRequests, 1);
    assert.equal(counters.byRoute.batch, 1);
    assert.equal(counters.byRoute.members, 3);
    assert.equal(counters.byRoute.users, 1);
    assert.equal(counters.throttled, 0);
    const paths = fake.requests().map((r) => r.path);
    assert.ok(
      paths.includes(
        "/v1.0/users?$select=id,mail,userPrincipalName,accountEnabled&$top=999",
      ),
    );
    assert.ok(paths.includes("/v1.0/groups?$select=id,displayName&$top=999"));
    assert.ok(paths.includes(`/v1.0/groups/${ID.eng}/members?$select=id&$top=999`));
  });
});

Deno.test("entra read() nests groups through the engine, a cycle included", async () => {
  await withEntra({ tenant: TENANT }, async ({ read, engine }) => {
    const data = engine(await read());
    assert.deepEqual(memberships(data), {
      Empty: [],
      Engineering: [ID.alice, ID.bob, ID.carol].sort(),
      Ops: [ID.alice, ID.bob, ID.carol].sort(),
    });
    assert.deepEqual(emails(data), [
      "alice@contoso.com",
      "bob@contoso.com",
      "carol@contoso.com",
      "dave@contoso.com",
      "erin@contoso.com",
      "gus@example.org",
    ]);
  });
});

Deno.test("entra read() reports progress as it goes and once more when done", async () => {
  await withEntra({ tenant: TENANT }, async ({ fake, read }) => {
    const calls: ReadCounters[] = [];
    await read({ progress: (counters) => calls.push(counters) });
    const last = calls.at(-1);
    assert.ok(calls.length > 3);
    assert.equal(last?.done, true);
    assert.equal(calls.filter((c) => c.done === true).length, 1);
    const counters = fake.counters();
    assert.equal(last?.requests, counters.requests - counters.tokenRequests);
    // 6 users, 1 deleted user, 3 groups, 8 member entries (6 of Engineering, 2 of Ops).
    assert.equal(last?.objects, 6 + 1 + 3 + 8);
    assert.equal(last?.throttleWaits, 0);
  });
});
