import assert from "node:assert/strict";
import type { GraphTenantInit } from "../../fakes/graph.ts";
import { canonical, emails, memberships, withEntra } from "./_env.ts";

// A small tenant: members with and without mail, an onmicrosoft.com mail, a disabled user, two
// guests (one without mail), a soft-deleted user, a contact and a device in a group, and two
// groups nesting each other (a cycle).
const ID = {
  alice: "00000000-0000-4000-8000-00000000000a",
  bob: "00000000-0000-4000-8000-00000000000b",
  carol: "00000000-0000-4000-8000-00000000000c",
  dave: "00000000-0000-4000-8000-00000000000d",
  guestNoMail: "00000000-0000-4000-8000-0000000000e1",
  guestMail: "00000000-0000-4000-8000-0000000000e2",
  erin: "00000000-0000-4000-8000-0000000000e3",
  contact: "00000000-0000-4000-8000-0000000000c1",
  device: "00000000-0000-4000-8000-0000000000d1",
  eng: "00000000-0000-4000-8000-000000000e00",
  ops: "00000000-0000-4000-8000-000000000f00",
  empty: "00000000-0000-4000-8000-000000000a00",
  unit: "00000000-0000-4000-8000-00000000a0a0",
};

export const TENANT: GraphTenantInit = {
  users: [
    { id: ID.alice, userPrincipalName: "alice@contoso.com", mail: "Alice@Contoso.com" },
    { id: ID.bob, userPrincipalName: "bob@contoso.com", mail: null },
    {
      id: ID.carol,
      userPrincipalName: "carol@contoso.com",
      mail: "carol@contoso.onmicrosoft.com",
    },
    { id: ID.dave, userPrincipalName: "dave@contoso.com", accountEnabled: false },
    { id: ID.guestNoMail, userPrincipalName: "gina_example.org#EXT#@contoso.onmicrosoft.com" },
    {
      id: ID.guestMail,
      userPrincipalName: "gus_example.org#EXT#@contoso.onmicrosoft.com",
      mail: "gus@example.org",
    },
  ],
  deletedUsers: [{ id: ID.erin, userPrincipalName: "erin@contoso.com", mail: "erin@contoso.com" }],
  contacts: [{ id: ID.contact, displayName: "Supplier", mail: "sales@supplier.example" }],
  devices: [{ id: ID.device, displayName: "Laptop 7" }],
  groups: [
    {
      id: ID.eng,
      displayName: "Engineering",
      members: [ID.alice, ID.bob, ID.contact, ID.device, ID.ops, ID.guestNoMail],
    },
    { id: ID.ops, displayName: "Ops", members: [ID.carol, ID.eng] },
    { id: ID.empty, displayName: "Empty", members: [] },
  ],
  administrativeUnits: [{ id: ID.unit, displayName: "Europe", members: [ID.ops, ID.dave] }],
};

export { ID };

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
        "/v1.0/users?$select=id,mail,userPrincipalName,displayName,accountEnabled&$top=999",
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
