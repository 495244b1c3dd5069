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

import { indexExternalIds } from "./dedupe.ts";
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
export class RefIndex {
  readonly #map = new Map<string, number>();
  readonly #shared: number[][] = [];

  /** Records that object `index` carries each of `refs` (in order, each index once per ref). */
  add(refs: readonly string[], index: number): void {
    for (let i = 0; i < refs.length; i++) this.addOne(refs[i] ?? "", index);
  }

  /** Records that object `index` carries `ref`. */
  addOne(ref: string, index: number): void {
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

  /**
   * What carries `ref`: the one index (>= 0), a code < 0 for several (read them with
   * {@link shared}), or undefined for nothing.
   */
  lookup(ref: string): number | undefined {
    return this.#map.get(ref);
  }

  /** The indexes behind a code < 0 from {@link lookup}, in the order they were added. */
  shared(code: number): readonly number[] {
    return this.#shared[-1 - code] ?? [];
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

/** Users as {@link resolveMembers} sees them: by index, as in the {@link RefIndex}. */
export interface IndexedUsers {
  /** Number of users; indexes below it in the {@link RefIndex} are users. */
  count: number;
  /** 1 for a user synced as a member (see {@link NestingUser.member}), by user index. */
  member: Uint8Array;
  /**
   * The first user with the same externalId, by user index: users sharing an externalId are
   * listed once, under the first.
   */
  canonical: Int32Array;
}

/** Direct members and nesting edges of the synced groups, from {@link resolveMembers}. */
export interface ResolvedMembers {
  /** Direct user members (canonical user indexes) of each group, in `memberRefs` order. */
  direct: number[][];
  /** Nested groups of each group (group indexes), in directory group order, each once. */
  children: number[][];
  /** References that matched nothing, in group order then reference order. */
  unresolved: UnresolvedMember[];
}

/** The references {@link resolveMembers} resolves against. */
export interface MemberIndexes {
  /**
   * Users' and groups' references in one index, so that each member reference costs one
   * lookup: users by user index (below `users.count`), added first; then groups, by
   * `users.count` + the index of a synced group, or anything higher for an object that exists
   * but is not synced (it contributes nothing and is not reported).
   */
  refs: RefIndex;
  users: IndexedUsers;
}

/**
 * Resolves the member references of `groups` (the synced groups) against the users' and
 * groups' references: a reference carried by users and groups gives the users first, then
 * the groups, each in the order they were added (users being added before groups). A
 * reference matching nothing is reported once per group.
 */
export function resolveMembers(
  groups: readonly DirectoryGroup[],
  options: MemberIndexes,
): ResolvedMembers {
  const { refs, users } = options;
  const count = groups.length;
  const stamp = new Int32Array(users.count);
  const direct: number[][] = new Array<number[]>(count);
  const parentsOf: number[][] = new Array<number[]>(count);
  for (let g = 0; g < count; g++) parentsOf[g] = [];
  const unresolved: UnresolvedMember[] = [];
  for (let g = 0; g < count; g++) {
    const group = groups[g];
    if (group === undefined) continue;
    direct[g] = resolveGroup(group, g + 1, {
      refs,
      users,
      stamp,
      parentsOf,
      unresolved,
    });
  }
  // Edges were recorded on the child, so each parent's children come out in directory group
  // order without sorting.
  const children: number[][] = new Array<number[]>(count);
  for (let g = 0; g < count; g++) children[g] = [];
  for (let child = 0; child < count; child++) {
    for (const parent of parentsOf[child] ?? []) {
      const list = children[parent];
      if (list !== undefined && list[list.length - 1] !== child) list.push(child);
    }
  }
  return { direct, children, unresolved };
}

interface ResolveState {
  refs: RefIndex;
  users: IndexedUsers;
  /** Per canonical user, the last group (index + 1) that listed it. */
  stamp: Int32Array;
  parentsOf: number[][];
  unresolved: UnresolvedMember[];
}

/**
 * One group's references. A small function of its own, called once per group, so that V8
 * optimises the loop over a large directory's hundreds of thousands of references.
 */
function resolveGroup(group: DirectoryGroup, mark: number, state: ResolveState): number[] {
  const index = state.refs;
  const refs = group.memberRefs;
  const members: number[] = [];
  let reported: Set<string> | undefined;
  for (let r = 0; r < refs.length; r++) {
    const ref = refs[r] ?? "";
    const found = index.lookup(ref);
    if (found === undefined) {
      reported ??= new Set<string>();
      if (!reported.has(ref)) {
        reported.add(ref);
        state.unresolved.push({ groupReferenceId: group.referenceId, memberRef: ref });
      }
    } else takeFound(index, found, { mark, members, state });
  }
  return members;
}

/** Takes the object or objects a {@link RefIndex.lookup} found (see {@link takeMember}). */
function takeFound(
  index: RefIndex,
  found: number,
  into: { mark: number; members: number[]; state: ResolveState },
): void {
  const { mark, members, state } = into;
  if (found >= 0) takeMember(found, mark, members, state);
  else for (const m of index.shared(found)) takeMember(m, mark, members, state);
}

/** Adds the object `m` that a reference of group `mark - 1` matched: a user or a nested group. */
function takeMember(m: number, mark: number, members: number[], state: ResolveState): void {
  const { users, stamp } = state;
  if (m < users.count) {
    if (users.member[m] !== 1) return;
    const c = users.canonical[m] ?? m;
    if (stamp[c] !== mark) {
      stamp[c] = mark;
      members.push(c);
    }
    return;
  }
  state.parentsOf[m - users.count]?.push(mark - 1);
}

/**
 * Flattens nested groups: from each group's direct members (`direct`, user indexes below
 * `userCount`) and nested groups (`children`), the transitive member list of every group, in
 * the order described in this module's documentation. Runs in time linear in groups, edges and
 * the size of each nested group's member list (each nesting edge reads its child's list once).
 * A group without nested groups keeps its `direct` list (no copy).
 */
export function flattenMembers(
  direct: readonly number[][],
  children: readonly number[][],
  userCount: number,
): number[][] {
  const count = direct.length;
  const collector = new Collector(userCount);
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

  return result;
}

/**
 * Resolves the member references of `groups` (the synced groups, in directory order) and
 * flattens nested groups (see {@link resolveMembers} and {@link flattenMembers}).
 */
export function flattenGroups(
  groups: readonly DirectoryGroup[],
  options: NestingOptions,
): NestingResult {
  const { users } = options;
  const canonical = new Int32Array(users.length);
  indexExternalIds(users.map((user) => user.externalId), canonical);
  const member = new Uint8Array(users.length);
  const userRefs = new RefIndex();
  users.forEach((user, i) => {
    member[i] = user.member ? 1 : 0;
    userRefs.add(user.refs, i);
  });
  groups.forEach((group, i) => userRefs.add(group.refs ?? [group.referenceId], users.length + i));
  const ignoredIndex = users.length + groups.length;
  for (const ref of options.ignoredRefs ?? []) userRefs.addOne(ref, ignoredIndex);
  const resolved = resolveMembers(groups, {
    refs: userRefs,
    users: { count: users.length, member, canonical },
  });
  const lists = flattenMembers(resolved.direct, resolved.children, users.length);
  const memberExternalIds = lists.map((list) => list.map((m) => users[m]?.externalId ?? ""));
  return { memberExternalIds, unresolved: resolved.unresolved };
}
