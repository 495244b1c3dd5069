import assert from "node:assert/strict";
import { flattenGroups, type NestingUser } from "../../src/engine/nesting.ts";
import type { DirectoryGroup } from "../../src/engine/types.ts";

function g(id: string, memberRefs: string[], refs?: string[]): DirectoryGroup {
  return refs === undefined
    ? { referenceId: id, externalId: `ext-${id}`, name: id, memberRefs }
    : { referenceId: id, externalId: `ext-${id}`, name: id, memberRefs, refs };
}

function u(id: string, member = true, refs: string[] = [id]): NestingUser {
  return { refs, externalId: id, member };
}

function flatten(groups: DirectoryGroup[], users: NestingUser[]): Record<string, string[]> {
  const result = flattenGroups(groups, { users });
  return Object.fromEntries(
    groups.map((group, i) => [group.referenceId, result.memberExternalIds[i] ?? []]),
  );
}

/** A small deterministic PRNG (mulberry32) so random graphs are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The closure as a set, by breadth-first search per group (the obvious, slow definition). */
function naiveClosure(groups: DirectoryGroup[], users: NestingUser[]): Record<string, Set<string>> {
  const byId = new Map(groups.map((group) => [group.referenceId, group]));
  const userIds = new Map(
    users.filter((x) => x.member).map((x) => [x.refs[0] ?? "", x.externalId]),
  );
  const out: Record<string, Set<string>> = {};
  for (const start of groups) {
    const seen = new Set([start.referenceId]);
    const queue = [start];
    const members = new Set<string>();
    while (queue.length > 0) {
      const current = queue.shift();
      if (current === undefined) break;
      for (const ref of current.memberRefs) {
        const userId = userIds.get(ref);
        if (userId !== undefined) members.add(userId);
        const child = byId.get(ref);
        if (child !== undefined && !seen.has(ref)) {
          seen.add(ref);
          queue.push(child);
        }
      }
    }
    out[start.referenceId] = members;
  }
  return out;
}

/** The documented order rule, written recursively; valid for acyclic directories only. */
function naiveOrder(groups: DirectoryGroup[], users: NestingUser[]): Record<string, string[]> {
  const position = new Map(groups.map((group, i) => [group.referenceId, i]));
  const userIds = new Map(
    users.filter((x) => x.member).map((x) => [x.refs[0] ?? "", x.externalId]),
  );
  const memo = new Map<string, string[]>();
  const order = (group: DirectoryGroup): string[] => {
    const cached = memo.get(group.referenceId);
    if (cached !== undefined) return cached;
    const list: string[] = [];
    const add = (id: string) => {
      if (!list.includes(id)) list.push(id);
    };
    for (const ref of group.memberRefs) {
      const id = userIds.get(ref);
      if (id !== undefined) add(id);
    }
    const children = groups.filter((c) => group.memberRefs.includes(c.referenceId));
    children.sort((a, b) =>
      (position.get(a.referenceId) ?? 0) - (position.get(b.referenceId) ?? 0)
    );
    for (const child of children) for (const id of order(child)) add(id);
    memo.set(group.referenceId, list);
    return list;
  };
  return Object.fromEntries(groups.map((group) => [group.referenceId, order(group)]));
}

/**
 * bwdc's flattening (a depth-first
 * walk per top-level group with a visited set shared down that walk, each visited group's set
 * replaced by itself plus its children's sets), re-implemented here as a test oracle.
 */
function seedToolOrder(groups: DirectoryGroup[], users: NestingUser[]): Record<string, string[]> {
  const userIds = new Map(
    users.filter((x) => x.member).map((x) => [x.refs[0] ?? "", x.externalId]),
  );
  const sets = new Map<string, Set<string>>();
  for (const group of groups) {
    const direct = new Set<string>();
    for (const ref of group.memberRefs) {
      const id = userIds.get(ref);
      if (id !== undefined) direct.add(id);
    }
    sets.set(group.referenceId, direct);
  }
  const walk = (current: DirectoryGroup[], visited: Set<string> | undefined): Set<string> => {
    let all = new Set<string>();
    for (const group of current) {
      const seen = visited ?? new Set<string>();
      if (seen.has(group.referenceId)) continue;
      seen.add(group.referenceId);
      const children = groups.filter((c) => group.memberRefs.includes(c.referenceId));
      const below = walk(children, seen);
      const updated = new Set([...(sets.get(group.referenceId) ?? []), ...below]);
      sets.set(group.referenceId, updated);
      all = new Set([...all, ...updated]);
    }
    return all;
  };
  walk(groups, undefined);
  return Object.fromEntries(
    groups.map((group) => [group.referenceId, [...(sets.get(group.referenceId) ?? [])]]),
  );
}

function randomDirectory(
  seed: number,
  options: { groups: number; users: number; acyclic: boolean; tree?: boolean },
): {
  groups: DirectoryGroup[];
  users: NestingUser[];
} {
  const random = prng(seed);
  const users = Array.from({ length: options.users }, (_, i) => u(`u${i}`, random() > 0.15));
  const groups: DirectoryGroup[] = [];
  const parentOf = new Map<number, number>();
  for (let i = 0; i < options.groups; i++) {
    const refs: string[] = [];
    for (let k = 0; k < 4; k++) {
      if (random() < 0.6) refs.push(`u${Math.floor(random() * options.users)}`);
    }
    if (options.tree === true) {
      // Each group has at most one parent, chosen among earlier groups.
      if (i > 0 && random() < 0.8) parentOf.set(i, Math.floor(random() * i));
    } else {
      for (let k = 0; k < 3; k++) {
        if (random() < 0.5) {
          const target = options.acyclic
            ? i + 1 + Math.floor(random() * Math.max(0, options.groups - i - 1))
            : Math.floor(random() * options.groups);
          if (target < options.groups) refs.push(`g${target}`);
        }
      }
    }
    groups.push(g(`g${i}`, refs));
  }
  if (options.tree === true) {
    return {
      users,
      groups: groups.map((group, i) => ({
        ...group,
        memberRefs: [
          ...group.memberRefs,
          ...[...parentOf].filter(([, parent]) => parent === i).map(([child]) => `g${child}`),
        ],
      })),
    };
  }
  return { groups, users };
}

Deno.test("flattenGroups() flattens a chain to the transitive members", () => {
  const groups = [g("A", ["a", "B"]), g("B", ["b", "C"]), g("C", ["c"])];
  assert.deepEqual(flatten(groups, [u("a"), u("b"), u("c")]), {
    A: ["a", "b", "c"],
    B: ["b", "c"],
    C: ["c"],
  });
});

Deno.test("flattenGroups() lists direct members first, then nested groups in directory group order", () => {
  // A lists C before B, but B comes first in the directory.
  const groups = [g("A", ["C", "a2", "B", "a1"]), g("B", ["b"]), g("C", ["c", "b"])];
  assert.deepEqual(flatten(groups, [u("a1"), u("a2"), u("b"), u("c")]), {
    A: ["a2", "a1", "b", "c"],
    B: ["b"],
    C: ["c", "b"],
  });
});

Deno.test("flattenGroups() handles a diamond without duplicating members", () => {
  const groups = [g("A", ["a", "B", "C"]), g("B", ["b", "D"]), g("C", ["c", "D"]), g("D", ["d"])];
  assert.deepEqual(flatten(groups, [u("a"), u("b"), u("c"), u("d")]), {
    A: ["a", "b", "d", "c"],
    B: ["b", "d"],
    C: ["c", "d"],
    D: ["d"],
  });
});

Deno.test("flattenGroups() gives both groups of a 2-cycle every member of the cycle", () => {
  const groups = [g("A", ["a", "B"]), g("B", ["b", "A"])];
  assert.deepEqual(flatten(groups, [u("a"), u("b")]), { A: ["a", "b"], B: ["b", "a"] });
});

Deno.test("flattenGroups() handles a 3-cycle with a group hanging off it", () => {
  const groups = [g("A", ["a", "B"]), g("B", ["b", "C"]), g("C", ["c", "A", "D"]), g("D", ["d"])];
  assert.deepEqual(flatten(groups, [u("a"), u("b"), u("c"), u("d")]), {
    A: ["a", "b", "c", "d"],
    B: ["b", "a", "c", "d"],
    C: ["c", "a", "b", "d"],
    D: ["d"],
  });
});

Deno.test("flattenGroups() handles several cycles joined together", () => {
  // A<->B, B->C, C<->D, and E->A from outside.
  const groups = [
    g("A", ["a", "B"]),
    g("B", ["b", "A", "C"]),
    g("C", ["c", "D"]),
    g("D", ["d", "C"]),
    g("E", ["e", "A"]),
  ];
  assert.deepEqual(flatten(groups, [u("a"), u("b"), u("c"), u("d"), u("e")]), {
    A: ["a", "b", "c", "d"],
    B: ["b", "a", "c", "d"],
    C: ["c", "d"],
    D: ["d", "c"],
    E: ["e", "a", "b", "c", "d"],
  });
});

Deno.test("flattenGroups() treats self-membership as no nesting", () => {
  const groups = [g("A", ["A", "a", "A"]), g("B", ["B", "A"])];
  assert.deepEqual(flatten(groups, [u("a")]), { A: ["a"], B: ["a"] });
});

Deno.test("flattenGroups() reproduces bwdc's bwdc test fixture shape (cycle plus diamond)", () => {
  // directory-circular-groups.ldif: AllStaff->{Engineering, Marketing, HR};
  // Engineering->{DevOps, QA}; DevOps->Platform; Platform->Engineering; Contractors->DevOps;
  // TestNestA<->TestNestB.
  const groups = [
    g("AllStaff", ["Engineering", "Marketing", "HR"]),
    g("Engineering", ["eng1", "DevOps", "QA"]),
    g("Marketing", ["mkt1"]),
    g("HR", ["hr1"]),
    g("DevOps", ["ops1", "Platform"]),
    g("QA", ["qa1"]),
    g("Platform", ["plat1", "Engineering"]),
    g("Contractors", ["con1", "DevOps"]),
    g("TestNestA", ["na", "TestNestB"]),
    g("TestNestB", ["nb", "TestNestA"]),
  ];
  const users = ["eng1", "mkt1", "hr1", "ops1", "qa1", "plat1", "con1", "na", "nb"].map((id) =>
    u(id)
  );
  const got = flatten(groups, users);
  const expected = naiveClosure(groups, users);
  for (const group of groups) {
    assert.deepEqual(
      new Set(got[group.referenceId]),
      expected[group.referenceId],
      group.referenceId,
    );
    assert.equal(new Set(got[group.referenceId]).size, got[group.referenceId]?.length);
  }
  assert.deepEqual(got["Engineering"], ["eng1", "ops1", "plat1", "qa1"]);
  // DevOps shares a cycle with Engineering and Platform: its own direct member first, then the
  // cycle's direct members in directory order, then QA below the cycle.
  assert.deepEqual(got["DevOps"], ["ops1", "eng1", "plat1", "qa1"]);
  assert.deepEqual(got["Contractors"], ["con1", "ops1", "eng1", "plat1", "qa1"]);
  assert.deepEqual(got["AllStaff"], ["eng1", "ops1", "plat1", "qa1", "mkt1", "hr1"]);
  assert.deepEqual(got["TestNestA"], ["na", "nb"]);
  assert.deepEqual(got["TestNestB"], ["nb", "na"]);
});

Deno.test("flattenGroups() matches a breadth-first closure on random cyclic directories", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { groups, users } = randomDirectory(seed, { groups: 30, users: 40, acyclic: false });
    const got = flatten(groups, users);
    const expected = naiveClosure(groups, users);
    for (const group of groups) {
      const list = got[group.referenceId] ?? [];
      assert.deepEqual(
        new Set(list),
        expected[group.referenceId],
        `seed ${seed} ${group.referenceId}`,
      );
      assert.equal(new Set(list).size, list.length, `no duplicates, seed ${seed}`);
    }
  }
});

Deno.test("flattenGroups() follows the documented order exactly on random acyclic directories", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { groups, users } = randomDirectory(seed, { groups: 30, users: 40, acyclic: true });
    assert.deepEqual(flatten(groups, users), naiveOrder(groups, users), `seed ${seed}`);
  }
});

Deno.test("flattenGroups() orders members exactly as bwdc does for nested trees", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { groups, users } = randomDirectory(seed, {
      groups: 25,
      users: 30,
      acyclic: true,
      tree: true,
    });
    assert.deepEqual(flatten(groups, users), seedToolOrder(groups, users), `seed ${seed}`);
  }
});

Deno.test("flattenGroups() differs from bwdc's order only where its shared visited set prunes a later parent", () => {
  // bwdc walks A first: D is visited under A, so X's set becomes {x, e} during that
  // walk and only gets d appended when X is walked on its own. roster lists d before e.
  const groups = [g("A", ["D", "X"]), g("D", ["d"]), g("E", ["e"]), g("X", ["x", "D", "E"])];
  const users = [u("d"), u("e"), u("x")];
  assert.deepEqual(seedToolOrder(groups, users)["X"], ["x", "e", "d"]);
  assert.deepEqual(flatten(groups, users)["X"], ["x", "d", "e"]);
});

Deno.test("flattenGroups() walks a chain of 10,000 nested groups without recursion", () => {
  const count = 10_000;
  const groups = Array.from(
    { length: count },
    (_, i) => g(`g${i}`, i === count - 1 ? ["deep"] : [`g${i + 1}`]),
  );
  const result = flattenGroups(groups, { users: [u("deep")] });
  assert.equal(result.memberExternalIds.length, count);
  assert.ok(result.memberExternalIds.every((list) => list.length === 1 && list[0] === "deep"));
  assert.deepEqual(result.unresolved, []);
});

Deno.test("flattenGroups() handles a ring of 10,000 groups as one cycle", () => {
  const count = 10_000;
  const groups = Array.from(
    { length: count },
    (_, i) => g(`g${i}`, i === 5_000 ? ["only", `g${(i + 1) % count}`] : [`g${(i + 1) % count}`]),
  );
  const result = flattenGroups(groups, { users: [u("only")] });
  assert.ok(result.memberExternalIds.every((list) => list.length === 1 && list[0] === "only"));
});

Deno.test("flattenGroups() handles a chain of 10,000 groups given in reverse order", () => {
  const count = 10_000;
  const groups = Array.from({ length: count }, (_, i) => {
    const n = count - 1 - i;
    return g(`g${n}`, n === count - 1 ? ["deep"] : [`g${n + 1}`]);
  });
  const result = flattenGroups(groups, { users: [u("deep")] });
  assert.ok(result.memberExternalIds.every((list) => list.length === 1));
});

Deno.test("flattenGroups() reports each unmatched reference once, and nothing for ignored ones", () => {
  const groups = [g("A", ["a", "ghost", "ghost", "filtered", "B"]), g("B", ["ghost", "cn=x"])];
  const result = flattenGroups(groups, {
    users: [u("a")],
    ignoredRefs: new Set(["filtered"]),
  });
  assert.deepEqual(result.unresolved, [
    { groupReferenceId: "A", memberRef: "ghost" },
    { groupReferenceId: "B", memberRef: "ghost" },
    { groupReferenceId: "B", memberRef: "cn=x" },
  ]);
  assert.deepEqual(result.memberExternalIds, [["a"], []]);
});

Deno.test("flattenGroups() resolves a user that is not a member without listing or reporting it", () => {
  const groups = [g("A", ["a", "skipped", "B"]), g("B", ["skipped"])];
  const result = flattenGroups(groups, { users: [u("a"), u("skipped", false)] });
  assert.deepEqual(result.memberExternalIds, [["a"], []]);
  assert.deepEqual(result.unresolved, []);
});

Deno.test("flattenGroups() matches users and groups by any of their refs, exactly", () => {
  const groups = [
    g("cn=eng,dc=x", ["uid:ann", "cn=bob,dc=x", "CN=BOB,DC=X", "cn=ops,dc=x"]),
    g("cn=ops,dc=x", ["uid:cy"], ["cn=ops,dc=x", "gid:ops"]),
    g("cn=all,dc=x", ["gid:ops"]),
  ];
  const users = [
    u("ann-guid", true, ["cn=ann,dc=x", "uid:ann"]),
    u("bob-guid", true, ["cn=bob,dc=x", "uid:bob"]),
    u("cy-guid", true, ["cn=cy,dc=x", "uid:cy"]),
  ];
  const result = flattenGroups(groups, { users });
  assert.deepEqual(result.memberExternalIds, [
    ["ann-guid", "bob-guid", "cy-guid"],
    ["cy-guid"],
    ["cy-guid"],
  ]);
  assert.deepEqual(result.unresolved, [{
    groupReferenceId: "cn=eng,dc=x",
    memberRef: "CN=BOB,DC=X",
  }]);
});

Deno.test("flattenGroups() returns nothing for no groups", () => {
  assert.deepEqual(flattenGroups([], { users: [u("a")] }), {
    memberExternalIds: [],
    unresolved: [],
  });
});
