/**
 * Entra delta reads and delta links (Microsoft Graph delta queries).
 *
 * **Delta read** (`test --last`, plain `sync`, with the delta links of the last successful
 * sync in the provider state under `usersDeltaLink` / `groupsDeltaLink`): one round of
 * `users/delta` and one of `groups/delta` (`members@delta`). Changed users come whole; a
 * removed user (`@removed`) is a deleted user, so the import can remove it. A changed group's
 * `members@delta` holds only the member changes, so the provider reads the whole member lists
 * of the changed groups again (through `$batch`, `./members.ts`) and returns whole groups;
 * removed groups are returned as `removed` ids. The pipeline merges them into the stored
 * snapshot. An expired or rejected delta link (`syncStateNotFound`, 410) means a full read,
 * with a `fullReadInstead` notice (`./read.ts`).
 *
 * **Delta links for the next run**: a full read first takes fresh ones
 * (`users/delta?$deltatoken=latest`, `groups/delta?$deltatoken=latest`), before anything is
 * listed, so changes made during the read are in the next delta ({@link nextDeltaLinks}).
 * @module
 */

import type { DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import { SourceIncompleteError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";
import {
  describeHttpError,
  HttpStatusError,
  type JsonResponse,
  pagesByNextLink,
} from "../../http/mod.ts";
import type { DirectoryPage } from "../provider.ts";
import { graphError, isDeltaExpired } from "./errors.ts";
import { endpointOf, type EntraGraph } from "./graph.ts";
import { mapUser, USER_SELECT } from "./mapping.ts";
import { groupsWithMembers } from "./members.ts";

/** Provider state keys: the delta links of the last read (bwdc's user delta link migrates to `usersDeltaLink`). */
export const ENTRA_STATE_KEYS = {
  users: "usersDeltaLink",
  groups: "groupsDeltaLink",
} as const;

const GROUPS_DELTA_SELECT = "id,displayName,members";

/** Raw Graph objects of a delta round, merged by id. */
interface DeltaRound {
  /** id → the merged object (later properties win); `@removed` kept. */
  objects: Map<string, Record<string, unknown>>;
  /** The round's delta link. */
  deltaLink: string;
}

/** The stored delta links to follow (`groups` null when groups are not read), or why not. */
export type DeltaPlan = { links: { users: string; groups: string | null } } | { reason: string };

/**
 * Whether the read can be a delta read: the stored links of the provider state when they are
 * there and for this Graph root, else the reason for a full read (provider-side filters, no
 * link, a link for another Graph root).
 */
export function deltaPlan(graph: EntraGraph): DeltaPlan {
  const { read, providerFilters } = graph.setup;
  if (providerFilters) {
    return {
      reason: "sync.userFilter or sync.groupFilter uses group, administrative-unit or " +
        "combined clauses, which need the whole directory",
    };
  }
  const users = read.state?.[ENTRA_STATE_KEYS.users];
  const groups = read.state?.[ENTRA_STATE_KEYS.groups];
  if (users === undefined) return { reason: "no users delta link from a previous sync" };
  if (read.groups && groups === undefined) {
    return { reason: "no groups delta link from a previous sync" };
  }
  for (const [link, kind] of [[users, "users"], [groups, "groups"]] as const) {
    if (link !== undefined && !link.startsWith(`${graph.base}/${kind}/delta?`)) {
      return { reason: `the stored ${kind} delta link is not for ${graph.base}` };
    }
  }
  return { links: { users, groups: read.groups ? groups ?? null : null } };
}

/** Follows one delta round from `link` to its delta link, merging objects by id. */
async function round(graph: EntraGraph, link: string): Promise<DeltaRound> {
  const objects = new Map<string, Record<string, unknown>>();
  let deltaLink: string | null = null;
  for await (
    const page of pagesByNextLink(link, {
      get: (url) => graph.api.get(url),
      next: ["@odata.nextLink"],
      checkEnd: (page) => {
        const value = isRecord(page.body) ? page.body["@odata.deltaLink"] : undefined;
        return typeof value === "string" && value !== ""
          ? null
          : "the delta round ended without a delta link";
      },
    })
  ) {
    graph.started = true;
    const body = isRecord(page.body) ? page.body : {};
    const value = body.value;
    if (!Array.isArray(value)) {
      throw new SourceIncompleteError(
        `Directory read incomplete: a page of ${endpointOf(link)} has no value array`,
        { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
      );
    }
    for (const raw of value) {
      if (!isRecord(raw) || typeof raw.id !== "string") continue;
      const before = objects.get(raw.id);
      if (before === undefined) {
        objects.set(raw.id, { ...raw });
        continue;
      }
      const merged: Record<string, unknown> = { ...before, ...raw };
      const old = before["members@delta"];
      const add = raw["members@delta"];
      if (Array.isArray(old) && Array.isArray(add)) merged["members@delta"] = [...old, ...add];
      else if (Array.isArray(old)) merged["members@delta"] = old;
      if (!("@removed" in raw)) delete merged["@removed"];
      objects.set(raw.id, merged);
    }
    const next = body["@odata.deltaLink"];
    if (typeof next === "string") deltaLink = next;
  }
  if (deltaLink === null) {
    throw new SourceIncompleteError(
      `Directory read incomplete: the delta round of ${
        endpointOf(link)
      } ended without a delta link`,
      { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
    );
  }
  return { objects, deltaLink };
}

/**
 * The delta read from the stored `links`: its pages (changed users, `removed` user ids, whole
 * changed groups, `removed` group ids, skipped entries, a `noChanges` notice when nothing
 * changed) and the new delta links as provider state; or, when Graph no longer accepts a
 * stored link, the reason for a full read.
 * @throws {DirectoryError | SourceIncompleteError} for other Graph failures (`graphError`).
 */
export async function readDelta(
  graph: EntraGraph,
  links: { users: string; groups: string | null },
): Promise<{ pages: DirectoryPage[]; state: Record<string, string> } | { reason: string }> {
  let users: DeltaRound;
  let groups: DeltaRound | null;
  try {
    [users, groups] = await Promise.all([
      round(graph, links.users),
      links.groups === null ? Promise.resolve(null) : round(graph, links.groups),
    ]);
  } catch (error) {
    if (isDeltaExpired(error)) {
      return {
        reason: `Graph no longer accepts the stored delta link (${
          describeHttpError(error)
        }); delta links expire after 7 days without a sync`,
      };
    }
    throw graphError(error, { started: graph.started });
  }
  const pages: DirectoryPage[] = [];
  const changedUsers: DirectoryUser[] = [];
  const skipped: SkippedEntry[] = [];
  const removedUsers: string[] = [];
  for (const raw of users.objects.values()) {
    const mapped = mapUser(raw);
    if (mapped.kind === "skipped") {
      skipped.push(mapped.entry);
      removedUsers.push(mapped.entry.referenceId);
    } else {
      changedUsers.push(mapped.user);
    }
  }
  graph.objects += changedUsers.length;
  pages.push({ kind: "users", users: changedUsers, removed: removedUsers });
  const state: Record<string, string> = { [ENTRA_STATE_KEYS.users]: users.deltaLink };
  if (groups !== null) {
    state[ENTRA_STATE_KEYS.groups] = groups.deltaLink;
    const removed: string[] = [];
    const changed = new Map<string, Record<string, unknown>>();
    for (const [id, raw] of groups.objects) {
      if (isRecord(raw["@removed"])) removed.push(id);
      else changed.set(id, raw);
    }
    const read = await groupsWithMembers(graph, changed, { fetchMissingNames: true });
    removed.push(...read.gone);
    // A group that lost its name is skipped now: it leaves the snapshot too.
    for (const entry of read.skipped) {
      if (entry.kind === "group") removed.push(entry.referenceId);
    }
    skipped.push(...read.skipped);
    graph.objects += read.groups.length;
    pages.push({ kind: "groups", groups: read.groups, removed });
  }
  if (skipped.length > 0) pages.push({ kind: "skipped", entries: skipped });
  if (
    changedUsers.length === 0 && removedUsers.length === 0 && (groups?.objects.size ?? 0) === 0
  ) {
    pages.push({
      kind: "notice",
      code: "noChanges",
      level: "info",
      message: "Entra ID: no users or groups changed since the last sync",
    });
  }
  return { pages, state };
}

/**
 * The provider state a full read leaves for the next delta read: fresh delta links ("from now
 * on") for users, and for groups when groups are read; empty when the filters are applied by
 * the provider (no delta reads then), users are not read, or Graph offers no link.
 */
export async function nextDeltaLinks(graph: EntraGraph): Promise<Record<string, string>> {
  const { read, providerFilters } = graph.setup;
  const state: Record<string, string> = {};
  if (!providerFilters && read.users) {
    const [users, groups] = await Promise.all([
      latestLink(graph, "users"),
      read.groups ? latestLink(graph, "groups") : Promise.resolve(null),
    ]);
    if (users !== null && (groups !== null || !read.groups)) {
      state[ENTRA_STATE_KEYS.users] = users;
      if (groups !== null) state[ENTRA_STATE_KEYS.groups] = groups;
    }
  }
  return state;
}

/** A fresh delta link ("from now on") for `kind`, or null when Graph offers none. */
async function latestLink(graph: EntraGraph, kind: "users" | "groups"): Promise<string | null> {
  const select = kind === "users" ? USER_SELECT.join(",") : GROUPS_DELTA_SELECT;
  const url = `${graph.base}/${kind}/delta?$select=${select}&$deltatoken=latest`;
  let response: JsonResponse;
  try {
    response = await graph.api.get(url);
  } catch (error) {
    const cause = error instanceof HttpStatusError ? error : null;
    if (
      cause !== null && cause.status >= 400 && cause.status < 500 && cause.status !== 401 &&
      cause.status !== 403
    ) {
      graph.context.log(
        "warn",
        `Entra ID: no ${kind} delta link (${
          describeHttpError(cause)
        }); the next sync reads in full`,
      );
      return null;
    }
    throw graphError(error, { started: false });
  }
  const link = isRecord(response.body) ? response.body["@odata.deltaLink"] : undefined;
  return typeof link === "string" && link !== "" ? link : null;
}
