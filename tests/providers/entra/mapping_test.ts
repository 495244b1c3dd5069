import assert from "node:assert/strict";
import { DirectoryDataError } from "../../../src/errors.ts";
import {
  graphUserEmail,
  mapGroup,
  mapMember,
  mapMembers,
  mapUser,
} from "../../../src/providers/entra/mapping.ts";
import { normalizeUsers } from "../../../src/engine/normalize.ts";

const ID = "11111111-1111-4111-8111-111111111111";

Deno.test("mapUser() takes mail as the email and id as externalId", () => {
  assert.deepEqual(
    mapUser({
      id: ID,
      mail: " Alice@Contoso.com ",
      userPrincipalName: "alice@contoso.com",
      accountEnabled: true,
    }),
    {
      kind: "user",
      user: {
        referenceId: ID,
        externalId: ID,
        email: " Alice@Contoso.com ",
        disabled: false,
        deleted: false,
      },
    },
  );
});

Deno.test("mapUser() leaves trimming and lowercasing to the engine's normalisation", () => {
  const mapped = mapUser({ id: ID, mail: " Alice@Contoso.com ", accountEnabled: true });
  assert.equal(mapped.kind, "user");
  if (mapped.kind !== "user") return;
  assert.equal(normalizeUsers([mapped.user]).users[0]?.user.email, "alice@contoso.com");
});

Deno.test("graphUserEmail() uses the UPN when mail is empty or an onmicrosoft.com address", () => {
  assert.deepEqual(
    [
      graphUserEmail({ mail: null, userPrincipalName: "bob@contoso.com" }),
      graphUserEmail({ mail: "  ", userPrincipalName: "bob@contoso.com" }),
      graphUserEmail({ mail: "bob@contoso.OnMicrosoft.com", userPrincipalName: "bob@contoso.com" }),
      graphUserEmail({ mail: "bob@contoso.onmicrosoft.com", userPrincipalName: null }),
      graphUserEmail({ mail: "bob@contoso.com", userPrincipalName: "b@contoso.onmicrosoft.com" }),
      graphUserEmail({ mail: null, userPrincipalName: null }),
    ],
    [
      "bob@contoso.com",
      "bob@contoso.com",
      "bob@contoso.com",
      "bob@contoso.onmicrosoft.com",
      "bob@contoso.com",
      null,
    ],
  );
});

Deno.test("mapUser() marks a user with accountEnabled false as disabled", () => {
  assert.deepEqual(mapUser({ id: ID, mail: "c@contoso.com", accountEnabled: false }), {
    kind: "user",
    user: {
      referenceId: ID,
      externalId: ID,
      email: "c@contoso.com",
      disabled: true,
      deleted: false,
    },
  });
});

Deno.test("mapUser() skips an enabled user without mail or UPN, with the reason", () => {
  assert.deepEqual(mapUser({ id: ID, mail: null, userPrincipalName: null, accountEnabled: true }), {
    kind: "skipped",
    entry: {
      referenceId: ID,
      kind: "user",
      reason: "no email address (mail and userPrincipalName are empty)",
    },
  });
});

Deno.test("mapUser() skips an enabled guest whose only address is its #EXT# UPN", () => {
  assert.deepEqual(
    mapUser({
      id: ID,
      mail: null,
      userPrincipalName: "dana_example.com#EXT#@contoso.onmicrosoft.com",
      accountEnabled: true,
    }),
    {
      kind: "skipped",
      entry: {
        referenceId: ID,
        kind: "user",
        reason:
          "guest without a mail address (userPrincipalName dana_example.com#EXT#@contoso.onmicrosoft.com)",
      },
    },
  );
});

Deno.test("mapUser() keeps a guest that has a mail address", () => {
  const mapped = mapUser({
    id: ID,
    mail: "dana@example.com",
    userPrincipalName: "dana_example.com#EXT#@contoso.onmicrosoft.com",
    accountEnabled: true,
  });
  assert.deepEqual(mapped, {
    kind: "user",
    user: {
      referenceId: ID,
      externalId: ID,
      email: "dana@example.com",
      disabled: false,
      deleted: false,
    },
  });
});

Deno.test("mapUser() keeps a removed delta entry as deleted without an email", () => {
  assert.deepEqual(mapUser({ id: ID, "@removed": { reason: "changed" } }), {
    kind: "user",
    user: { referenceId: ID, externalId: ID, email: null, disabled: false, deleted: true },
  });
  assert.deepEqual(mapUser({ id: ID, "@removed": { reason: "deleted" } }), {
    kind: "user",
    user: { referenceId: ID, externalId: ID, email: null, disabled: false, deleted: true },
  });
});

Deno.test("mapUser() marks recycle-bin users deleted when asked", () => {
  assert.deepEqual(
    mapUser({ id: ID, mail: "e@contoso.com", accountEnabled: true }, { deleted: true }),
    {
      kind: "user",
      user: {
        referenceId: ID,
        externalId: ID,
        email: "e@contoso.com",
        disabled: false,
        deleted: true,
      },
    },
  );
});

Deno.test("mapUser() throws DirectoryDataError for a user without id or accountEnabled", () => {
  assert.throws(
    () => mapUser({ mail: "a@b.com" }),
    (e: unknown) =>
      e instanceof DirectoryDataError &&
      e.message.startsWith("Graph returned a user without an id"),
  );
  assert.throws(
    () => mapUser({ id: ID, mail: "a@b.com" }),
    (e: unknown) =>
      e instanceof DirectoryDataError &&
      e.message === `Graph returned user ${ID} without accountEnabled`,
  );
});

Deno.test("mapMember() maps users and groups, and skips contacts, devices and service principals", () => {
  const g = "group-1";
  assert.deepEqual(mapMember({ "@odata.type": "#microsoft.graph.user", id: "u1" }, g), {
    kind: "user",
    ref: "u1",
    removed: false,
  });
  assert.deepEqual(
    mapMember({
      "@odata.type": "#microsoft.graph.group",
      id: "g2",
      "@removed": { reason: "deleted" },
    }, g),
    { kind: "group", ref: "g2", removed: true },
  );
  assert.deepEqual(
    [
      "#microsoft.graph.orgContact",
      "#microsoft.graph.device",
      "#microsoft.graph.servicePrincipal",
      "#microsoft.graph.application",
    ].map((type) => mapMember({ "@odata.type": type, id: "x" }, g)),
    [
      "an organizational contact",
      "a device",
      "a service principal",
      "of type application",
    ].map((what) => ({
      kind: "skipped",
      removed: false,
      entry: {
        referenceId: "x",
        kind: "user",
        reason: `member of group group-1 is ${what}, not a user or group`,
      },
    })),
  );
  assert.throws(() => mapMember({ id: "x" }, g), DirectoryDataError);
});

Deno.test("mapMembers() keeps order, drops duplicates and removed entries, lists skipped members", () => {
  assert.deepEqual(
    mapMembers([
      { "@odata.type": "#microsoft.graph.user", id: "u2" },
      { "@odata.type": "#microsoft.graph.group", id: "g9" },
      { "@odata.type": "#microsoft.graph.orgContact", id: "c1" },
      { "@odata.type": "#microsoft.graph.user", id: "u2" },
      { "@odata.type": "#microsoft.graph.user", id: "u3", "@removed": { reason: "deleted" } },
      { "@odata.type": "#microsoft.graph.user", id: "u1" },
    ], "g1"),
    {
      memberRefs: ["u2", "g9", "u1"],
      skipped: [{
        referenceId: "c1",
        kind: "user",
        reason: "member of group g1 is an organizational contact, not a user or group",
      }],
    },
  );
});

Deno.test("mapGroup() maps id and displayName, and skips a group without a name", () => {
  assert.deepEqual(mapGroup({ id: "g1", displayName: "Sales" }, ["u1"]), {
    kind: "group",
    group: { referenceId: "g1", externalId: "g1", name: "Sales", memberRefs: ["u1"] },
  });
  assert.deepEqual(mapGroup({ id: "g2", displayName: null }, []), {
    kind: "skipped",
    entry: { referenceId: "g2", kind: "group", reason: "no display name" },
  });
});
