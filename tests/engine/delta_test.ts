import assert from "node:assert/strict";
import { applyDelta } from "../../src/engine/delta.ts";
import type { DirectorySnapshot } from "../../src/engine/types.ts";

const user = (id: string, email = `${id}@example.com`) => ({
  referenceId: id,
  externalId: id,
  email,
  disabled: false,
  deleted: false,
});
const group = (id: string, members: string[]) => ({
  referenceId: id,
  externalId: id,
  name: id.toUpperCase(),
  memberRefs: members,
});

Deno.test("applyDelta() replaces changed objects in place, appends new ones and drops removed ones", () => {
  const base: DirectorySnapshot = {
    users: [user("a"), user("b"), user("c")],
    groups: [group("g", ["a"]), group("h", ["b"])],
    skipped: [{ referenceId: "x", kind: "user", reason: "no email address" }],
  };
  const merged = applyDelta(base, {
    changed: {
      users: [user("b", "new@example.com"), user("d")],
      groups: [group("h", ["b", "d"])],
      skipped: [],
    },
    removed: { users: ["c"], groups: ["g"] },
  });
  assert.deepEqual(merged, {
    users: [user("a"), user("b", "new@example.com"), user("d")],
    groups: [group("h", ["b", "d"])],
    skipped: [{ referenceId: "x", kind: "user", reason: "no email address" }],
  });
  assert.equal(base.users.length, 3);
});

Deno.test("applyDelta() drops a skipped entry the delta now maps, and takes the delta's skipped ones", () => {
  const base: DirectorySnapshot = {
    users: [],
    groups: [],
    skipped: [{ referenceId: "x", kind: "user", reason: "no email address" }],
  };
  const merged = applyDelta(base, {
    changed: {
      users: [user("x")],
      groups: [],
      skipped: [{ referenceId: "y", kind: "group", reason: "no group name" }],
    },
    removed: { users: [], groups: [] },
  });
  assert.deepEqual(merged.users, [user("x")]);
  assert.deepEqual(merged.skipped, [{ referenceId: "y", kind: "group", reason: "no group name" }]);
});
