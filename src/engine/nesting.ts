/**
 * Nesting: resolves group member references and flattens nested groups to their transitive
 * user members.
 *
 * Each `memberRef` of a group is matched exactly against the `refs` of users and of groups
 * (both default to `[referenceId]`). A match on a user is a user member, a match on a group is
 * a nested group, and a reference matching nothing is reported as unresolved, never guessed.
 *
 * The closure is computed once per strongly connected component, found with an iterative
 * Tarjan walk (no recursion, so a chain of any length is safe), children before parents.
 * Cycles of any shape, diamonds and self-membership are handled.
 *
 * Order of a group's members: its direct user members in `memberRefs` order, then each nested
 * group in directory group order contributing its own member list; the first occurrence wins.
 * For a directory without cycles this mirrors bwdc's `flattenUsersToGroups`. Groups
 * that share a cycle first take the direct members of every group of the cycle (in directory
 * order), then the members of the groups the cycle contains.
 * @module
 */

import type { DirectoryGroup, UnresolvedMember } from "./types.ts";

/** A user as nesting sees it. */
export interface NestingUser {
  /** Keys groups use to reference this user (already defaulted to `[referenceId]`). */
  refs: readonly string[];
  /** The id listed in a group's `memberExternalIds`. */
  externalId: string;
  /** Whether the user is synced as a member (not skipped, filtered out, deleted or removed). */
  member: boolean;
}

/** Options of {@link flattenGroups}. */
export interface NestingOptions {
  /** Every user of the directory, in directory order, including those that are not members. */
  users: readonly NestingUser[];
  /**
   * References of directory objects that exist but are not synced (e.g. groups left out by
   * `sync.groupFilter`): they contribute nothing and are not reported as unresolved.
   */
  ignoredRefs?: ReadonlySet<string>;
}

/** What {@link flattenGroups} returns. */
export interface NestingResult {
  /** Flattened user members of each group, by the group's index in the input. */
  memberExternalIds: string[][];
  /** References that matched no user or group, in group order then reference order. */
  unresolved: UnresolvedMember[];
}

/**
 * Indexes of the objects (users or groups) that carry each reference. Almost every reference
 * belongs to one object, so the map holds that index itself (>= 0); only a reference shared by
 * several objects gets a list, stored aside (the map then holds -1 - its slot). At a million
 * users that is a million small arrays fewer.
 */
class RefIndex {
  readonly #map = new Map<string, number>();
  readonly #shared: number[][] = [];
  readonly #one = [0];

  /** Records that object `index` carries each of `refs` (in order, each index once per ref). */
  add(refs: readonly string[], index: number): void {
    for (const ref of refs) {
      const known = this.#map.get(ref);
      if (known === undefined) this.#map.set(ref, index);
      else if (known >= 0) {
        if (known !== index) {
          this.#map.set(ref, -1 - this.#shared.length);
          this.#shared.push([known, index]);
        }
      } else {
        const list = this.#shared[-1 - known];
        if (list !== undefined && list[list.length - 1] !== index) list.push(index);
      }
    }
  }

  /**
   * The indexes carrying `ref` in the order they were added, or undefined. The returned list is
   * only valid until the next call (a single index comes in a reused one-element list).
   */
  get(ref: string): readonly number[] | undefined {
    const known = this.#map.get(ref);
    if (known === undefined) return undefined;
    if (known < 0) return this.#shared[-1 - known];
    this.#one[0] = known;
    return this.#one;
  }

  /** Drops the index. */
  clear(): void {
    this.#map.clear();
    this.#shared.length = 0;
  }
}

/**
 * De-duplicating appends on user indices: a stamp per user says which list last took it, so no
 * set is built per group (they dominated memory on directories with large groups).
 */
class Collector {
  readonly #stamp: Int32Array;
  #current = 0;

  constructor(size: number) {
    this.#stamp = new Int32Array(size);
  }

  /** Starts a new list; earlier lists' stamps no longer count. */
  start(): number[] {
    this.#current++;
    return [];
  }

  /** Appends the items not yet in the list started last, in order. */
  append(target: number[], items: readonly number[]): void {
    const stamp = this.#stamp;
    const current = this.#current;
    for (const item of items) {
      if (stamp[item] !== current) {
        stamp[item] = current;
        target.push(item);
      }
    }
  }
}

/**
 * Resolves the member references of `groups` (the synced groups, in directory order) and
 * flattens nested groups. Runs in time linear in groups, references and the size of each
 * nested group's member list (each nesting edge reads its child's list once).
 */
export function flattenGroups(
  groups: readonly DirectoryGroup[],
  options: NestingOptions,
): NestingResult {
  const { users } = options;
  const ignored = options.ignoredRefs;
  const count = groups.length;

  // Users are handled by index; users sharing an externalId (identical records) share the
  // index of the first, so a member is listed once.
  const canonical = new Int32Array(users.length);
  const firstByExternalId = new Map<string, number>();
  users.forEach((user, i) => {
    const first = firstByExternalId.get(user.externalId);
    if (first === undefined) firstByExternalId.set(user.externalId, i);
    canonical[i] = first ?? i;
  });
  firstByExternalId.clear();

  // One index for users and groups: users are 0 .. users.length - 1, group g is
  // users.length + g. Users are added first, so a reference's users come before its groups
  // (the order the members and nesting edges are taken in), and each member reference costs one
  // lookup, not one per kind.
  const groupBase = users.length;
  const byRef = new RefIndex();
  users.forEach((user, i) => byRef.add(user.refs, i));
  groups.forEach((group, i) => byRef.add(group.refs ?? [group.referenceId], groupBase + i));

  // Direct user members, and nesting edges recorded on the child so that each parent's
  // children come out in directory group order without sorting.
  const collector = new Collector(users.length);
  const direct: number[][] = [];
  const parentsOf: number[][] = [];
  for (let i = 0; i < count; i++) parentsOf.push([]);
  const unresolved: UnresolvedMember[] = [];
  const one = [0];
  groups.forEach((group, g) => {
    const members = collector.start();
    let reported: Set<string> | undefined;
    for (const ref of group.memberRefs) {
      const matches = byRef.get(ref);
      if (matches !== undefined) {
        for (const m of matches) {
          if (m >= groupBase) {
            parentsOf[m - groupBase]?.push(g);
          } else if (users[m]?.member === true) {
            one[0] = canonical[m] ?? m;
            collector.append(members, one);
          }
        }
      } else if (ignored?.has(ref) !== true) {
        reported ??= new Set<string>();
        if (!reported.has(ref)) {
          reported.add(ref);
          unresolved.push({ groupReferenceId: group.referenceId, memberRef: ref });
        }
      }
    }
    direct.push(members);
  });
  byRef.clear();
  const children: number[][] = [];
  for (let i = 0; i < count; i++) children.push([]);
  parentsOf.forEach((parents, child) => {
    for (const parent of parents) {
      const list = children[parent];
      if (list !== undefined && list[list.length - 1] !== child) list.push(child);
    }
  });

  // Iterative Tarjan. SCCs complete children-first, so every child outside the current
  // component already has its final member list.
  const result: number[][] = new Array<number[]>(count);
  const index = new Int32Array(count).fill(-1);
  const low = new Int32Array(count);
  const component = new Int32Array(count).fill(-1);
  const onStack = new Uint8Array(count);
  const sccStack = new Int32Array(count);
  let sccTop = 0;
  const callNode = new Int32Array(count);
  const callEdge = new Int32Array(count);
  let nextIndex = 0;
  let nextComponent = 0;
  const none: number[] = [];

  const finishComponent = (root: number): void => {
    const members: number[] = [];
    const id = nextComponent++;
    for (;;) {
      const node = sccStack[--sccTop] ?? root;
      onStack[node] = 0;
      component[node] = id;
      members.push(node);
      if (node === root) break;
    }
    if (members.length === 1) {
      const kids = children[root] ?? none;
      const own = direct[root] ?? none;
      if (kids.length === 0 || (kids.length === 1 && kids[0] === root)) {
        result[root] = own; // a leaf keeps its direct list: no copy
        return;
      }
      const list = collector.start();
      collector.append(list, own);
      for (const child of kids) {
        if (child !== root) collector.append(list, result[child] ?? none);
      }
      result[root] = list;
      return;
    }
    members.sort((a, b) => a - b);
    const outside = new Set<number>();
    const list = collector.start();
    for (const member of members) {
      collector.append(list, direct[member] ?? none);
      for (const child of children[member] ?? none) {
        if (component[child] !== id) outside.add(child);
      }
    }
    for (const child of [...outside].sort((a, b) => a - b)) {
      collector.append(list, result[child] ?? none);
    }
    for (const member of members) {
      const own = collector.start();
      collector.append(own, direct[member] ?? none);
      collector.append(own, list);
      result[member] = own;
    }
  };

  for (let start = 0; start < count; start++) {
    if (index[start] !== -1) continue;
    let depth = 0;
    callNode[0] = start;
    callEdge[0] = 0;
    index[start] = low[start] = nextIndex++;
    sccStack[sccTop++] = start;
    onStack[start] = 1;
    while (depth >= 0) {
      const node = callNode[depth] ?? 0;
      const edges = children[node] ?? [];
      const edge = callEdge[depth] ?? 0;
      if (edge < edges.length) {
        callEdge[depth] = edge + 1;
        const child = edges[edge] ?? 0;
        if (index[child] === -1) {
          index[child] = low[child] = nextIndex++;
          sccStack[sccTop++] = child;
          onStack[child] = 1;
          depth++;
          callNode[depth] = child;
          callEdge[depth] = 0;
        } else if (onStack[child] === 1) {
          low[node] = Math.min(low[node] ?? 0, index[child] ?? 0);
        }
        continue;
      }
      if (low[node] === index[node]) finishComponent(node);
      depth--;
      if (depth >= 0) {
        const parent = callNode[depth] ?? 0;
        low[parent] = Math.min(low[parent] ?? 0, low[node] ?? 0);
      }
    }
  }

  const memberExternalIds: string[][] = new Array<string[]>(count);
  for (let g = 0; g < count; g++) {
    const list = result[g] ?? none;
    const ids: string[] = new Array<string>(list.length);
    for (let k = 0; k < list.length; k++) ids[k] = users[list[k] ?? 0]?.externalId ?? "";
    memberExternalIds[g] = ids;
  }
  return { memberExternalIds, unresolved };
}
