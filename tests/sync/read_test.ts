import assert from "node:assert/strict";
import { readDirectory } from "../../src/sync/read.ts";
import { SourceIncompleteError } from "../../src/errors.ts";
import type { DirectoryPage, DirectoryProvider } from "../../src/providers/provider.ts";

function provider(pages: DirectoryPage[]): DirectoryProvider {
  return {
    name: "fake",
    async *read() {
      for (const page of pages) yield await Promise.resolve(page);
    },
  };
}

const user = (id: string) => ({
  referenceId: id,
  externalId: id,
  email: `${id}@example.com`,
  disabled: false,
  deleted: false,
});

Deno.test("readDirectory() gathers pages in order until done", async () => {
  const logged: string[] = [];
  const result = await readDirectory(
    provider([
      { kind: "users", users: [user("a")] },
      { kind: "notice", code: "tlsSettingsIgnored", level: "warn", message: "careful" },
      { kind: "users", users: [user("b")] },
      {
        kind: "groups",
        groups: [{ referenceId: "g", externalId: "g", name: "G", memberRefs: ["a"] }],
      },
      {
        kind: "skipped",
        entries: [{ referenceId: "c", kind: "user", reason: "no email address" }],
      },
      { kind: "done", incremental: true, state: { delta: "x" } },
    ]),
    {
      users: true,
      groups: true,
      mode: "incremental",
      log: (level, message) => logged.push(`${level} ${message}`),
    },
  );
  assert.deepEqual(result.snapshot.users.map((u) => u.referenceId), ["a", "b"]);
  assert.equal(result.snapshot.groups.length, 1);
  assert.equal(result.snapshot.skipped.length, 1);
  assert.equal(result.incremental, true);
  assert.deepEqual(result.state, { delta: "x" });
  assert.deepEqual(result.notices, [
    { kind: "notice", code: "tlsSettingsIgnored", level: "warn", message: "careful" },
  ]);
  assert.deepEqual(result.counts, { users: 2, groups: 1, skipped: 1, pages: 6 });
  assert.ok(logged.includes("warn careful"));
});

Deno.test("readDirectory() hands pages to a sink and leaves the snapshot empty", async () => {
  const seen: string[] = [];
  const result = await readDirectory(
    provider([
      { kind: "users", users: [user("a"), user("b")] },
      {
        kind: "groups",
        groups: [{ referenceId: "g", externalId: "g", name: "G", memberRefs: ["a"] }],
      },
      { kind: "users", users: [user("c")] },
      {
        kind: "skipped",
        entries: [{ referenceId: "d", kind: "user", reason: "no email address" }],
      },
      { kind: "done", incremental: false },
    ]),
    {
      users: true,
      groups: true,
      mode: "full",
      sink: {
        addUsers: (users) => seen.push(`users ${users.map((u) => u.referenceId).join(",")}`),
        addGroups: (groups) => seen.push(`groups ${groups.map((g) => g.referenceId).join(",")}`),
        addSkipped: (entries) =>
          seen.push(`skipped ${entries.map((e) => e.referenceId).join(",")}`),
      },
    },
  );
  assert.deepEqual(seen, ["users a,b", "groups g", "users c", "skipped d"]);
  assert.deepEqual(result.snapshot, { users: [], groups: [], skipped: [] });
  assert.deepEqual(result.counts, { users: 3, groups: 1, skipped: 1, pages: 5 });
});

Deno.test("readDirectory() throws SourceIncompleteError when there is no done page", async () => {
  await assert.rejects(
    () =>
      readDirectory(provider([{ kind: "users", users: [user("a")] }]), {
        users: true,
        groups: true,
        mode: "full",
      }),
    (error: unknown) => {
      assert.ok(error instanceof SourceIncompleteError);
      assert.equal(
        error.message,
        "Directory read incomplete: the fake provider stopped after 1 users and 0 groups without finishing",
      );
      assert.equal(error.exitCode, 5);
      return true;
    },
  );
});
