/**
 * The Entra full read (`test`, `sync --force`, a first run, an unusable delta link):
 * 1. fresh delta links for the next run, taken before anything is listed, so changes made
 *    during the read are in the next delta (`./delta_read.ts`);
 * 2. with provider-side filters, the memberships they need (`./filter_members.ts`);
 * 3. at the same time, three independent streams: users (`/users?$select=…&$top=999`, one
 *    serial stream of next links), the recycle bin (`/directory/deletedItems/microsoft.graph.user`,
 *    users soft-deleted in the last 30 days: deleted users), and groups
 *    (`/groups?$select=id,displayName&$top=999`) with their direct members read through
 *    `$batch` (`./members.ts`).
 *
 * With a group filter applied here (administrative units, several clauses) and groups read,
 * the users of the user listing are held back until the groups are read, and only those that
 * are direct members of a kept group (or disabled, when `sync.removeDisabled` is on) are
 * returned.
 * @module
 */

import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import { ConfigError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";
import type { DirectoryPage } from "../provider.ts";
import { nextDeltaLinks } from "./delta_read.ts";
import { type EntraGroupFilter, groupPassesFilter, userPassesFilter } from "./filter.ts";
import { filterMemberships, unitMemberships } from "./filter_members.ts";
import type { EntraGraph } from "./graph.ts";
import { GROUP_SELECT, mapUser, USER_SELECT } from "./mapping.ts";
import { groupsWithMembers } from "./members.ts";

/**
 * Reads the whole directory as provider pages, then `done` (`incremental: false`) with the
 * next delta links as state when there are any.
 * @throws {ConfigError} when a filter names a group or administrative unit Graph does not have.
 * @throws {DirectoryError | SourceIncompleteError} for Graph failures (`graphError`).
 */
export async function* fullRead(graph: EntraGraph): AsyncGenerator<DirectoryPage> {
  const { read, providerFilters, userFilter, groupFilter } = graph.setup;
  const state = await nextDeltaLinks(graph);
  const memberships = providerFilters && userFilter !== null
    ? await filterMemberships(graph, userFilter)
    : {};
  const units = providerFilters && groupFilter !== null
    ? await unitMemberships(graph, groupFilter)
    : {};

  const abort = new AbortController();
  const groupsTask = read.groups
    ? allGroups(graph, {
      filter: providerFilters ? groupFilter : null,
      units,
      signal: abort.signal,
    })
    : Promise.resolve(null);
  groupsTask.catch(() => {});
  const deletedTask = read.users ? deletedUsers(graph) : Promise.resolve(null);
  deletedTask.catch(() => {});
  const restrictByGroups = providerFilters && groupFilter !== null && read.groups;
  const held: DirectoryUser[] = [];
  try {
    if (read.users) {
      for await (
        const values of graph.list(
          `${graph.base}/users?$select=${USER_SELECT.join(",")}&$top=999`,
        )
      ) {
        const users: DirectoryUser[] = [];
        const skipped: SkippedEntry[] = [];
        for (const raw of values) {
          const mapped = mapUser(raw);
          if (mapped.kind === "skipped") skipped.push(mapped.entry);
          else if (!providerFilters || userPassesFilter(userFilter, mapped.user, memberships)) {
            users.push(mapped.user);
          }
        }
        graph.objects += values.length;
        graph.progress(false);
        if (skipped.length > 0) yield { kind: "skipped", entries: skipped };
        if (restrictByGroups) held.push(...users);
        else if (users.length > 0) yield { kind: "users", users };
      }
      const deleted = await deletedTask;
      if (deleted !== null) {
        if ("notice" in deleted) {
          yield deleted.notice;
        } else {
          const kept = deleted.users.filter((u) =>
            !providerFilters || userPassesFilter(userFilter, u, memberships)
          );
          if (kept.length > 0) yield { kind: "users", users: kept };
        }
      }
    }
    const groups = await groupsTask;
    if (groups !== null) {
      if (restrictByGroups) {
        const direct = new Set<string>();
        for (const g of groups.groups) for (const ref of g.memberRefs) direct.add(ref);
        const removeDisabled = graph.context.settings.sync.removeDisabled;
        const kept = held.filter((u) =>
          u.deleted || (u.disabled && removeDisabled) || direct.has(u.externalId)
        );
        if (kept.length > 0) yield { kind: "users", users: kept };
      }
      if (groups.skipped.length > 0) yield { kind: "skipped", entries: groups.skipped };
      yield { kind: "groups", groups: groups.groups };
    } else if (restrictByGroups && held.length > 0) {
      yield { kind: "users", users: held };
    }
  } finally {
    abort.abort();
    await Promise.allSettled([groupsTask, deletedTask]);
  }
  graph.progress(true);
  yield {
    kind: "done",
    incremental: false,
    ...(Object.keys(state).length > 0 ? { state } : {}),
  };
}

/**
 * The recycle bin's users (deleted users), or a `deletedObjectsUnreadable` notice when it
 * cannot be read (a sync that would remove anyone then stops).
 */
async function deletedUsers(
  graph: EntraGraph,
): Promise<{ users: DirectoryUser[] } | { notice: DirectoryPage & { kind: "notice" } }> {
  const users: DirectoryUser[] = [];
  try {
    for await (
      const values of graph.list(
        `${graph.base}/directory/deletedItems/microsoft.graph.user?$select=${
          USER_SELECT.join(",")
        }&$top=999`,
      )
    ) {
      for (const raw of values) {
        const mapped = mapUser(raw, { deleted: true });
        if (mapped.kind === "user") users.push(mapped.user);
      }
      graph.objects += values.length;
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    return {
      notice: {
        kind: "notice",
        code: "deletedObjectsUnreadable",
        level: "warn",
        message: `Entra ID: cannot read deleted users from the recycle bin: ${
          error instanceof Error ? error.message : String(error)
        }`,
      },
    };
  }
  return { users };
}

/** Every group (kept by the provider-side filter), with its direct members. */
async function allGroups(
  graph: EntraGraph,
  options: {
    filter: EntraGroupFilter | null;
    units: { included?: ReadonlySet<string>; excluded?: ReadonlySet<string> };
    signal: AbortSignal;
  },
): Promise<{ groups: DirectoryGroup[]; skipped: SkippedEntry[]; gone: string[] }> {
  const raws = new Map<string, Record<string, unknown>>();
  for await (
    const values of graph.list(`${graph.base}/groups?$select=${GROUP_SELECT.join(",")}&$top=999`)
  ) {
    if (options.signal.aborted) break;
    graph.objects += values.length;
    for (const raw of values) {
      if (!isRecord(raw) || typeof raw.id !== "string") continue;
      const name = typeof raw.displayName === "string" ? raw.displayName : "";
      if (
        options.filter !== null &&
        !groupPassesFilter(options.filter, { externalId: raw.id, name }, options.units)
      ) continue;
      raws.set(raw.id, raw);
    }
  }
  return await groupsWithMembers(graph, raws, {
    fetchMissingNames: false,
    signal: options.signal,
  });
}
