import assert from "node:assert/strict";
import { BATCH_SIZE, buildImportRequests, type ImportOptions } from "../../src/engine/batches.ts";
import { ConfigError, ExitCode } from "../../src/errors.ts";
import type { SyncData, SyncGroup, SyncUser } from "../../src/engine/types.ts";

function users(n: number, extra: Partial<SyncUser> = {}): SyncUser[] {
  return Array.from({ length: n }, (_, i) => ({
    referenceId: `u${i}`,
    externalId: `u${i}`,
    email: `u${i}@x.com`,
    disabled: false,
    deleted: false,
    ...extra,
  }));
}

function groups(n: number): SyncGroup[] {
  return Array.from({ length: n }, (_, i) => ({
    referenceId: `g${i}`,
    externalId: `g${i}`,
    name: `Group ${i}`,
    memberExternalIds: [`u${i}`],
  }));
}

function data(u: SyncUser[], g: SyncGroup[]): SyncData {
  return { users: u, groups: g, skipped: [], unresolved: [] };
}

const OPTIONS: ImportOptions = {
  overwriteExisting: false,
  largeImport: false,
  removeDisabled: false,
  inviteUsersAfterProvisioning: false,
};

Deno.test("buildImportRequests() sends 11,000 users and 11,000 groups as 12 batches, users first", () => {
  const requests = buildImportRequests(data(users(11_000), groups(11_000)), {
    ...OPTIONS,
    largeImport: true,
  });
  assert.equal(requests.length, 12);
  assert.deepEqual(requests.map((r) => [r.members.length, r.groups.length]), [
    [2000, 0],
    [2000, 0],
    [2000, 0],
    [2000, 0],
    [2000, 0],
    [1000, 0],
    [0, 2000],
    [0, 2000],
    [0, 2000],
    [0, 2000],
    [0, 2000],
    [0, 1000],
  ]);
  assert.ok(
    requests.every((r) => r.largeImport && !r.overwriteExisting && !r.inviteUsersAfterProvisioning),
  );
  assert.equal(requests[0]?.members[0]?.externalId, "u0");
  assert.equal(requests[5]?.members[999]?.externalId, "u10999");
  assert.equal(requests[11]?.groups[999]?.externalId, "g10999");
});

Deno.test("buildImportRequests() sends 200 users and 200 groups as one request", () => {
  const requests = buildImportRequests(data(users(200), groups(200)), {
    ...OPTIONS,
    largeImport: true,
  });
  assert.equal(requests.length, 1);
  assert.equal(requests[0]?.members.length, 200);
  assert.equal(requests[0]?.groups.length, 200);
  // A single request always says largeImport: false, as bwdc sends it.
  assert.equal(requests[0]?.largeImport, false);
});

Deno.test("buildImportRequests() batches only above 2000 users plus groups", () => {
  const at = buildImportRequests(data(users(1000), groups(1000)), {
    ...OPTIONS,
    largeImport: true,
  });
  assert.equal(at.length, 1);
  const above = buildImportRequests(data(users(1001), groups(1000)), {
    ...OPTIONS,
    largeImport: true,
  });
  assert.deepEqual(above.map((r) => [r.members.length, r.groups.length]), [[1001, 0], [0, 1000]]);
  assert.equal(BATCH_SIZE, 2000);
});

Deno.test("buildImportRequests() sends one request however large without largeImport", () => {
  const requests = buildImportRequests(data(users(5000), groups(10)), OPTIONS);
  assert.equal(requests.length, 1);
  assert.equal(requests[0]?.members.length, 5000);
});

Deno.test("buildImportRequests() refuses overwriteExisting with batches, explaining why", () => {
  assert.throws(
    () =>
      buildImportRequests(data(users(2001), []), {
        ...OPTIONS,
        largeImport: true,
        overwriteExisting: true,
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.exitCode, ExitCode.Usage);
      assert.match(error.message, /^Cannot combine sync\.overwriteExisting with a large import: /);
      assert.match(error.message, /each batch would remove the members of the others/);
      assert.match(error.hint ?? "", /sync\.overwriteExisting.*sync\.largeImport/);
      return true;
    },
  );
});

Deno.test("buildImportRequests() forwards overwriteExisting when no batching is needed", () => {
  const requests = buildImportRequests(data(users(3), []), {
    ...OPTIONS,
    largeImport: true,
    overwriteExisting: true,
  });
  assert.equal(requests.length, 1);
  assert.equal(requests[0]?.overwriteExisting, true);
});

Deno.test("buildImportRequests() turns disabled users into removals with removeDisabled", () => {
  const input = data([
    ...users(1),
    ...users(1, { referenceId: "off", externalId: "off", disabled: true }),
  ], []);
  assert.deepEqual(buildImportRequests(input, OPTIONS)[0]?.members.map((m) => m.deleted), [
    false,
    false,
  ]);
  assert.deepEqual(
    buildImportRequests(input, { ...OPTIONS, removeDisabled: true })[0]?.members.map((m) =>
      m.deleted
    ),
    [false, true],
  );
});

Deno.test("buildImportRequests() returns no request for no data unless overwriteExisting is on", () => {
  assert.deepEqual(buildImportRequests(data([], []), OPTIONS), []);
  assert.deepEqual(buildImportRequests(data([], []), { ...OPTIONS, largeImport: true }), []);
  assert.deepEqual(buildImportRequests(data([], []), { ...OPTIONS, overwriteExisting: true }), [
    {
      groups: [],
      members: [],
      overwriteExisting: true,
      largeImport: false,
      inviteUsersAfterProvisioning: false,
    },
  ]);
});

Deno.test("buildImportRequests() forwards inviteUsersAfterProvisioning to every request", () => {
  const single = buildImportRequests(data(users(1), []), {
    ...OPTIONS,
    inviteUsersAfterProvisioning: true,
  });
  assert.equal(single[0]?.inviteUsersAfterProvisioning, true);
  const batches = buildImportRequests(data(users(2500), []), {
    ...OPTIONS,
    largeImport: true,
    inviteUsersAfterProvisioning: true,
  });
  assert.deepEqual(batches.map((r) => r.inviteUsersAfterProvisioning), [true, true]);
});

Deno.test("buildImportRequests() writes keys in bwdc's order", () => {
  const input = data(
    [{ referenceId: "r", externalId: "e", email: null, disabled: false, deleted: true }],
    [{ referenceId: "g", externalId: "ge", name: "G", memberExternalIds: ["x"] }],
  );
  assert.equal(
    JSON.stringify(buildImportRequests(input, OPTIONS)),
    '[{"groups":[{"name":"G","externalId":"ge","memberExternalIds":["x"]}],' +
      '"members":[{"email":null,"externalId":"e","deleted":true}],' +
      '"overwriteExisting":false,"largeImport":false,"inviteUsersAfterProvisioning":false}]',
  );
});

Deno.test("buildImportRequests() does not share member arrays with the sync data", () => {
  const input = data([], groups(1));
  const [request] = buildImportRequests(input, OPTIONS);
  request?.groups[0]?.memberExternalIds.push("extra");
  assert.deepEqual(input.groups[0]?.memberExternalIds, ["u0"]);
});
