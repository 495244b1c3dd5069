/**
 * The Bitwarden Directory Connector's (bwdc) include/exclude set filters for non-LDAP providers.
 *
 * A filter reads `include:a,b` or `exclude:a,b`, optionally followed by `|<native query>` for
 * the provider. The keyword is case-insensitive; values are comma-separated, trimmed and
 * lowercased. Users are matched by email, groups by name.
 *
 * Fixes over bwdc: the keyword is split from the values at the **first** `:` only, so
 * values may contain `:`; the native query keeps everything after the first `|`; and keeping
 * users that belong to a kept group takes linear time instead of O(users × groups).
 * @module
 */

import type { DirectoryGroup, DirectoryUser } from "./types.ts";

/** A parsed include/exclude set. */
export interface SetFilter {
  /** `include` keeps only listed values; `exclude` drops them. */
  mode: "include" | "exclude";
  /** Trimmed, lowercased values. */
  values: ReadonlySet<string>;
}

/**
 * Parses the set part of a filter (the text before the first `|`). Returns null when there is
 * no set filter: an empty set part, no `:`, or a keyword other than `include` or `exclude`
 * (as bwdc does).
 */
export function parseSetFilter(filter: string | null | undefined): SetFilter | null {
  if (filter === null || filter === undefined) return null;
  const bar = filter.indexOf("|");
  const setPart = bar === -1 ? filter : filter.slice(0, bar);
  const colon = setPart.indexOf(":");
  if (colon === -1) return null;
  const keyword = setPart.slice(0, colon).trim().toLowerCase();
  if (keyword !== "include" && keyword !== "exclude") return null;
  const values = new Set<string>();
  for (const value of setPart.slice(colon + 1).split(",")) {
    const v = value.trim().toLowerCase();
    if (v !== "") values.add(v);
  }
  return { mode: keyword, values };
}

/**
 * The provider-native query of a filter: the trimmed text after the first `|` (later `|`s are
 * kept), or null when there is none.
 */
export function nativeQuery(filter: string | null | undefined): string | null {
  if (filter === null || filter === undefined) return null;
  const bar = filter.indexOf("|");
  if (bar === -1) return null;
  const query = filter.slice(bar + 1).trim();
  return query === "" ? null : query;
}

/**
 * Whether a value passes a set filter (case-insensitive). A null value is compared as `--`,
 * as in bwdc. No filter keeps everything.
 */
export function passesSetFilter(filter: SetFilter | null, value: string | null): boolean {
  if (filter === null) return true;
  const listed = filter.values.has(value === null ? "--" : value.trim().toLowerCase());
  return filter.mode === "include" ? listed : !listed;
}

/** Options of {@link applySetFilters}. */
export interface ApplySetFiltersOptions {
  /** The user filter (`sync.userFilter`); users are matched by email. */
  users?: string | undefined;
  /** The group filter (`sync.groupFilter`); groups are matched by name. */
  groups?: string | undefined;
  /** Keep disabled users outside the kept groups too, so they can be removed. */
  removeDisabled: boolean;
}

/** Users and groups that passed the filters, in input order. */
export interface FilteredDirectory {
  /** Users that passed, in input order. */
  users: DirectoryUser[];
  /** Groups that passed, in input order. */
  groups: DirectoryGroup[];
}

/**
 * Applies the user and group set filters. When a group set filter exists, users are further
 * limited as bwdc's `filterUsersFromGroupsSet` does: a user stays if it is deleted,
 * disabled while `removeDisabled` is on, or a **direct** member of a kept group.
 */
export function applySetFilters(
  users: readonly DirectoryUser[],
  groups: readonly DirectoryGroup[],
  options: ApplySetFiltersOptions,
): FilteredDirectory {
  const userSet = parseSetFilter(options.users);
  const groupSet = parseSetFilter(options.groups);
  let keptUsers = users.filter((u) => passesSetFilter(userSet, u.email));
  const keptGroups = groups.filter((g) => passesSetFilter(groupSet, g.name));
  if (groupSet !== null) {
    const directRefs = new Set<string>();
    for (const group of keptGroups) {
      for (const ref of group.memberRefs) directRefs.add(ref);
    }
    keptUsers = keptUsers.filter((u) =>
      u.deleted || (u.disabled && options.removeDisabled) ||
      (u.refs ?? [u.referenceId]).some((ref) => directRefs.has(ref))
    );
  }
  return { users: keptUsers, groups: keptGroups };
}
