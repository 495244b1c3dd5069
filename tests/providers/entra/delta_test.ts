import assert from "node:assert/strict";
import { applyDelta } from "../../../src/engine/delta.ts";
import { SourceIncompleteError } from "../../../src/errors.ts";
import type { DirectorySnapshot } from "../../../src/engine/types.ts";
import type { ReadResult } from "../../../src/sync/read.ts";
import { canonical, withEntra } from "./_env.ts";
import { ID, TENANT } from "./_tenant.ts";

const FRANK = "00000000-0000-4000-8000-0000000000f1";

/** The snapshot a delta read gives once merged into `base`, as the pipeline merges it. */
function merged(base: DirectorySnapshot, delta: ReadResult): DirectorySnapshot {
  assert.equal(delta.delta, true);
  return applyDelta(base, {
    changed: delta.snapshot,
    removed: delta.removed ?? { users: [], groups: [] },
  });
}

/** Deleted users compare by id only: a delta's removed entry carries no email. */
function comparable(snapshot: DirectorySnapshot): DirectorySnapshot {
  const c = canonical(snapshot);
  return { ...c, users: c.users.map((u) => u.deleted ? { ...u, email: null } : u) };
}

Deno.test("entra delta read after adds, removes and membership-only changes merges into the full directory", async () => {
  await withEntra({ tenant: TENANT }, async (env) => {
    const first = await env.read();
    assert.ok(first.state !== undefined);
    env.fake.addUser({
      id: FRANK,
      userPrincipalName: "frank@contoso.com",
      mail: "frank@contoso.com",
    });
    env.fake.updateUser(ID.bob, { mail: "robert@contoso.com" });
    env.fake.softDeleteUser(ID.carol);
    env.fake.addMember(ID.ops, ID.alice);
    env.fake.removeMember(ID.eng, ID.bob);
    env.fake.addGroup({ displayName: "New", members: [FRANK, ID.eng] });
    env.fake.updateGroup(ID.eng, { displayName: "R&D" });
    env.fake.deleteGroup(ID.empty);
    env.fake.resetCounters();

    const delta = await env.read({ mode: "incremental", state: first.state });
    assert.equal(delta.incremental, true);
    const counters = env.fake.counters();
    assert.equal(counters.byRoute.users, undefined, "no full user listing");
    assert.equal(counters.byRoute.groups, undefined, "no full group listing");
    assert.deepEqual(delta.removed?.groups, [ID.empty]);
    assert.deepEqual(
      delta.snapshot.users.map((u) => [u.externalId, u.email, u.deleted]).sort(),
      [
        [FRANK, "frank@contoso.com", false],
        [ID.bob, "robert@contoso.com", false],
        [ID.carol, null, true],
      ].sort(),
    );
    assert.deepEqual(delta.snapshot.groups.map((g) => g.name).sort(), ["New", "Ops", "R&D"]);
    assert.ok(delta.state !== undefined);
    assert.notEqual(delta.state.usersDeltaLink, first.state.usersDeltaLink);

    const full = await env.read();
    assert.deepEqual(comparable(merged(first.snapshot, delta)), comparable(full.snapshot));

    // Nothing changed since: an empty delta that says so.
    const quiet = await env.read({ mode: "incremental", state: delta.state });
    assert.equal(quiet.delta, true);
    assert.deepEqual(quiet.snapshot, { users: [], groups: [], skipped: [] });
    assert.deepEqual(quiet.notices.map((n) => n.code), ["noChanges"]);
  });
});

Deno.test("entra delta read keeps a permanently deleted user as deleted and drops a user losing its email", async () => {
  await withEntra({ tenant: TENANT }, async (env) => {
    const first = await env.read();
    env.fake.purgeUser(ID.alice);
    env.fake.updateUser(ID.guestMail, { mail: null });
    const delta = await env.read({ mode: "incremental", state: first.state });
    assert.deepEqual(delta.snapshot.users, [
      { referenceId: ID.alice, externalId: ID.alice, email: null, disabled: false, deleted: true },
    ]);
    assert.deepEqual(delta.removed?.users, [ID.guestMail]);
    // Engineering lost alice, so it is read again: its contact and device are skipped again.
    assert.deepEqual(
      delta.snapshot.skipped.map((s) => s.referenceId).sort(),
      [ID.guestMail, ID.contact, ID.device].sort(),
    );
    assert.deepEqual(delta.snapshot.groups.map((g) => g.name), ["Engineering"]);
    const after = merged(first.snapshot, delta);
    assert.equal(after.users.some((u) => u.externalId === ID.guestMail), false);
  });
});

Deno.test("entra reads in full with a notice when Graph rejects the stored delta link (400 or 410)", async () => {
  for (const status of [400, 410] as const) {
    await withEntra({ tenant: TENANT, deltaExpiredStatus: status }, async (env) => {
      const first = await env.read();
      env.fake.expireDeltaLinks();
      const again = await env.read({ mode: "incremental", state: first.state });
      assert.equal(again.incremental, false);
      assert.equal(again.delta, undefined);
      assert.deepEqual(again.notices.map((n) => [n.code, n.level]), [["fullReadInstead", "warn"]]);
      assert.match(again.notices[0]?.message ?? "", /syncStateNotFound/);
      assert.deepEqual(canonical(again.snapshot), canonical(first.snapshot));
      assert.ok(again.state !== undefined);
      assert.notEqual(again.state.usersDeltaLink, first.state?.usersDeltaLink);
      // The fresh links work.
      const next = await env.read({ mode: "incremental", state: again.state });
      assert.equal(next.delta, true);
    });
  }
});

Deno.test("entra reads in full when no usable delta link is stored", async () => {
  await withEntra({ tenant: TENANT }, async (env) => {
    const none = await env.read({ mode: "incremental" });
    assert.equal(none.incremental, false);
    assert.deepEqual(none.notices.map((n) => [n.code, n.level]), [["fullReadInstead", "info"]]);
    assert.match(none.notices[0]?.message ?? "", /no users delta link/);

    const usersOnly = await env.read({
      mode: "incremental",
      state: { usersDeltaLink: none.state?.usersDeltaLink ?? "" },
    });
    assert.match(usersOnly.notices[0]?.message ?? "", /no groups delta link/);

    const foreign = await env.read({
      mode: "incremental",
      state: {
        usersDeltaLink: "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc",
        groupsDeltaLink: none.state?.groupsDeltaLink ?? "",
      },
    });
    assert.equal(foreign.incremental, false);
    assert.match(foreign.notices[0]?.message ?? "", /the stored users delta link is not for /);
  });
});

Deno.test("entra throws SourceIncompleteError when a delta page keeps failing mid-round", async () => {
  await withEntra({ tenant: TENANT, deltaPageSize: 1 }, async (env) => {
    const first = await env.read();
    env.fake.updateUser(ID.alice, { mail: "alice2@contoso.com" });
    env.fake.updateUser(ID.bob, { mail: "bob2@contoso.com" });
    env.fake.failNext(Infinity, "503", { path: /\/users\/delta\?\$skiptoken=/ });
    await assert.rejects(
      env.read({ mode: "incremental", state: first.state }),
      (error: unknown) => {
        assert.ok(error instanceof SourceIncompleteError, String(error));
        assert.match(
          error.message,
          /^Directory read incomplete: GET \/v1\.0\/users\/delta answered 503/,
        );
        return true;
      },
    );
  });
});
