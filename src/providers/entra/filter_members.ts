/**
 * The Graph reads that provider-side filters need (`./filter.ts` parses the filters and
 * applies them): the transitive user members of the user filter's `includeGroup:` /
 * `excludeGroup:` groups (`/groups/{id}/transitiveMembers/microsoft.graph.user`), and the
 * groups of the group filter's administrative units
 * (`/directory/administrativeUnits/{id}/members`). Such filters need whole-directory
 * knowledge, so reads with them are always full.
 * @module
 */

import { ConfigError, RosterError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";
import { HttpStatusError } from "../../http/mod.ts";
import type { EntraGroupFilter, EntraUserFilter } from "./filter.ts";
import type { EntraGraph } from "./graph.ts";
import { MEMBERS_PAGE } from "./members.ts";

/**
 * Transitive user members (ids, lowercase) of the user filter's `includeGroup:` /
 * `excludeGroup:` groups; a key is absent when the filter has no such clause.
 * @throws {ConfigError} naming `sync.userFilter` when a group does not exist (404).
 */
export async function filterMemberships(graph: EntraGraph, filter: EntraUserFilter): Promise<{
  includedByGroup?: ReadonlySet<string>;
  excludedByGroup?: ReadonlySet<string>;
}> {
  const read = (ids: ReadonlySet<string>) =>
    memberIds(graph, ids, {
      url: (id) =>
        `${graph.base}/groups/${
          encodeURIComponent(id)
        }/transitiveMembers/microsoft.graph.user?$select=id&$top=999`,
      keep: () => true,
      setting: "sync.userFilter",
      what: "group",
    });
  return {
    ...(filter.includeGroups.size > 0 ? { includedByGroup: await read(filter.includeGroups) } : {}),
    ...(filter.excludeGroups.size > 0 ? { excludedByGroup: await read(filter.excludeGroups) } : {}),
  };
}

/**
 * Group members (ids, lowercase) of the group filter's administrative units; a key is absent
 * when the filter has no such clause.
 * @throws {ConfigError} naming `sync.groupFilter` when an administrative unit does not exist
 *   (404).
 */
export async function unitMemberships(graph: EntraGraph, filter: EntraGroupFilter): Promise<{
  included?: ReadonlySet<string>;
  excluded?: ReadonlySet<string>;
}> {
  const read = (ids: ReadonlySet<string>) =>
    memberIds(graph, ids, {
      url: (id) =>
        `${graph.base}/directory/administrativeUnits/${
          encodeURIComponent(id)
        }/members?${MEMBERS_PAGE}`,
      keep: (raw) => raw["@odata.type"] === "#microsoft.graph.group",
      setting: "sync.groupFilter",
      what: "administrative unit",
    });
  return {
    ...(filter.includeAdministrativeUnits.size > 0
      ? { included: await read(filter.includeAdministrativeUnits) }
      : {}),
    ...(filter.excludeAdministrativeUnits.size > 0
      ? { excluded: await read(filter.excludeAdministrativeUnits) }
      : {}),
  };
}

/**
 * The ids (lowercase) of the members listed at `url(id)` for each of `ids` that `keep`
 * accepts, read in parallel.
 * @throws {ConfigError} naming `setting` when Graph has no `what` with one of the ids (404).
 */
async function memberIds(
  graph: EntraGraph,
  ids: ReadonlySet<string>,
  source: {
    url: (id: string) => string;
    keep: (raw: Record<string, unknown>) => boolean;
    setting: string;
    what: string;
  },
): Promise<Set<string>> {
  const out = new Set<string>();
  await Promise.all([...ids].map(async (id) => {
    try {
      for await (const values of graph.list(source.url(id))) {
        for (const raw of values) {
          if (isRecord(raw) && typeof raw.id === "string" && source.keep(raw)) {
            out.add(raw.id.toLowerCase());
          }
        }
      }
    } catch (error) {
      throw notFoundAsConfig(error, id, source.setting, source.what);
    }
  }));
  return out;
}

/** A 404 for an object a filter names → a ConfigError naming the setting; others unchanged. */
function notFoundAsConfig(
  error: unknown,
  id: string,
  setting: string,
  what: string,
): unknown {
  const cause = error instanceof RosterError ? error.cause : error;
  if (cause instanceof HttpStatusError && cause.status === 404) {
    return new ConfigError(`Invalid ${setting}: there is no ${what} ${id} in the tenant`, {
      hint: `Correct or remove the ${what} id ${id} in ${setting} (object ids are shown in the ` +
        "Entra admin center)",
      details: { setting, id },
    });
  }
  return error;
}
