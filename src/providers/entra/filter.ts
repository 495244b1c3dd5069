/**
 * bwdc's Entra ID filters, parsed and checked before any request.
 *
 * `sync.userFilter` is one or more clauses joined by `|`: `include:<emails>`,
 * `exclude:<emails>`, `includeGroup:<group ids>` (only the groups' transitive members),
 * `excludeGroup:<group ids>` (all but their transitive members). `sync.groupFilter` is
 * `include:<names>`, `exclude:<names>`, `includeAdministrativeUnit:<ids>` (only the groups in
 * those administrative units) or `excludeAdministrativeUnit:<ids>`. Keywords are
 * case-insensitive; values are comma-separated, trimmed and lowercased.
 *
 * Differences from bwdc: each clause is split at its **first** `:` only (an email or name may
 * contain `:`); clauses of any kind may be combined and all of them apply (a repeated keyword
 * adds values); a malformed clause is an error naming it, where bwdc silently drops the filter;
 * group and administrative-unit ids must be GUIDs; and administrative units select groups by
 * id, not by display name (names are not unique).
 *
 * Which side applies them ({@link entraFilterHandling}): the engine for a lone `include:` /
 * `exclude:` clause, the provider otherwise; the Graph reads the provider then needs are in
 * `./filter_members.ts`.
 *
 * Pure: no I/O.
 * @module
 */

import type { Config } from "../../config/schema.ts";
import type { DirectoryGroup, DirectoryUser } from "../../engine/types.ts";
import { ConfigError } from "../../errors.ts";
import type { FilterHandling } from "../registry.ts";

/** A parsed `sync.userFilter`. Empty sets mean "no such clause". */
export interface EntraUserFilter {
  /** Emails to keep (`include:`); empty keeps every email. */
  includeEmails: ReadonlySet<string>;
  /** Emails to drop (`exclude:`). */
  excludeEmails: ReadonlySet<string>;
  /** Keep only transitive members of these groups (`includeGroup:`); empty keeps everyone. */
  includeGroups: ReadonlySet<string>;
  /** Drop transitive members of these groups (`excludeGroup:`). */
  excludeGroups: ReadonlySet<string>;
}

/** A parsed `sync.groupFilter`. Empty sets mean "no such clause". */
export interface EntraGroupFilter {
  /** Display names to keep (`include:`); empty keeps every name. */
  includeNames: ReadonlySet<string>;
  /** Display names to drop (`exclude:`). */
  excludeNames: ReadonlySet<string>;
  /** Keep only groups that are members of these administrative units. */
  includeAdministrativeUnits: ReadonlySet<string>;
  /** Drop groups that are members of these administrative units. */
  excludeAdministrativeUnits: ReadonlySet<string>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Clauses = Map<string, Set<string>>;

function parseClauses(
  text: string,
  setting: string,
  keywords: Readonly<Record<string, "text" | "guid">>,
  example: string,
): Clauses {
  const canonical = new Map(Object.keys(keywords).map((k) => [k.toLowerCase(), k]));
  const names = Object.keys(keywords).map((k) => `${k}:`).join(", ");
  const hint = `Write ${setting} as clauses joined by "|", each one of ${names} followed by ` +
    `comma-separated values, e.g. ${JSON.stringify(example)}`;
  const clauses: Clauses = new Map();
  for (const clause of text.split("|")) {
    const shown = JSON.stringify(clause.trim());
    const colon = clause.indexOf(":");
    if (clause.trim() === "") {
      throw new ConfigError(`Malformed ${setting}: an empty clause in ${JSON.stringify(text)}`, {
        hint,
      });
    }
    if (colon === -1) {
      throw new ConfigError(`Malformed clause in ${setting}: ${shown} has no keyword`, { hint });
    }
    const typed = clause.slice(0, colon).trim();
    const keyword = canonical.get(typed.toLowerCase());
    if (keyword === undefined) {
      throw new ConfigError(
        `Malformed clause in ${setting}: ${shown} has the unknown keyword ${JSON.stringify(typed)}`,
        { hint },
      );
    }
    const values = clause.slice(colon + 1).split(",").map((v) => v.trim().toLowerCase())
      .filter((v) => v !== "");
    if (values.length === 0) {
      throw new ConfigError(`Malformed clause in ${setting}: ${shown} lists no values`, { hint });
    }
    if (keywords[keyword] === "guid") {
      const bad = values.find((v) => !GUID.test(v));
      if (bad !== undefined) {
        throw new ConfigError(
          `Malformed clause in ${setting}: ${shown} has ${
            JSON.stringify(bad)
          }, which is not an object id`,
          { hint: `${keyword}: takes object ids (GUIDs) as shown in the Entra admin center` },
        );
      }
    }
    const set = clauses.get(keyword) ?? new Set<string>();
    for (const v of values) set.add(v);
    clauses.set(keyword, set);
  }
  return clauses;
}

const none: ReadonlySet<string> = new Set();

/**
 * Parses `sync.userFilter` for the Entra source. Returns null for no filter (undefined or
 * blank).
 * @throws {ConfigError} (exit 2) naming the malformed clause and `sync.userFilter`: an empty
 *   clause, no `:`, an unknown keyword, no values, or a group id that is not a GUID.
 */
export function parseEntraUserFilter(text: string | undefined): EntraUserFilter | null {
  if (text === undefined || text.trim() === "") return null;
  const clauses = parseClauses(text, "sync.userFilter", {
    include: "text",
    exclude: "text",
    includeGroup: "guid",
    excludeGroup: "guid",
  }, "includeGroup:<group id>|exclude:alice@example.com");
  return {
    includeEmails: clauses.get("include") ?? none,
    excludeEmails: clauses.get("exclude") ?? none,
    includeGroups: clauses.get("includeGroup") ?? none,
    excludeGroups: clauses.get("excludeGroup") ?? none,
  };
}

/**
 * Parses `sync.groupFilter` for the Entra source. Returns null for no filter.
 * @throws {ConfigError} (exit 2) naming the malformed clause and `sync.groupFilter`, as
 *   {@link parseEntraUserFilter}; administrative-unit ids must be GUIDs.
 */
export function parseEntraGroupFilter(text: string | undefined): EntraGroupFilter | null {
  if (text === undefined || text.trim() === "") return null;
  const clauses = parseClauses(text, "sync.groupFilter", {
    include: "text",
    exclude: "text",
    includeAdministrativeUnit: "guid",
    excludeAdministrativeUnit: "guid",
  }, "include:Engineering,Sales");
  return {
    includeNames: clauses.get("include") ?? none,
    excludeNames: clauses.get("exclude") ?? none,
    includeAdministrativeUnits: clauses.get("includeAdministrativeUnit") ?? none,
    excludeAdministrativeUnits: clauses.get("excludeAdministrativeUnit") ?? none,
  };
}

/** The group and administrative-unit memberships a filter needs resolved before it applies. */
export interface FilterMemberships {
  /** Ids of the users that are transitive members of the filter's `includeGroup:` groups. */
  includedByGroup?: ReadonlySet<string>;
  /** Ids of the users that are transitive members of the filter's `excludeGroup:` groups. */
  excludedByGroup?: ReadonlySet<string>;
}

/**
 * Whether a user passes a `sync.userFilter`. `user.externalId` is the object id, `user.email`
 * the email as mapped (null when there is none; compared case-insensitively). `memberships`
 * gives the lowercase ids of the transitive members of the filter's groups (required when it
 * has group clauses).
 *
 * Deleted users pass the group clauses (a deleted user is no group's member any more, and must
 * stay so the import can remove it); the email clauses apply to them when they have an email.
 * @throws {TypeError} when the filter has group clauses and `memberships` lacks their members
 *   (a programming error).
 */
export function userPassesFilter(
  filter: EntraUserFilter | null,
  user: Pick<DirectoryUser, "externalId" | "email" | "deleted">,
  memberships: FilterMemberships = {},
): boolean {
  if (filter === null) return true;
  const email = user.email?.trim().toLowerCase() ?? null;
  if (email !== null || !user.deleted) {
    const value = email ?? "--";
    if (filter.includeEmails.size > 0 && !filter.includeEmails.has(value)) return false;
    if (filter.excludeEmails.has(value)) return false;
  }
  if (user.deleted) return true;
  if (filter.includeGroups.size > 0) {
    if (memberships.includedByGroup === undefined) {
      throw new TypeError("userPassesFilter: includeGroup members were not resolved");
    }
    if (!memberships.includedByGroup.has(user.externalId.toLowerCase())) return false;
  }
  if (filter.excludeGroups.size > 0) {
    if (memberships.excludedByGroup === undefined) {
      throw new TypeError("userPassesFilter: excludeGroup members were not resolved");
    }
    if (memberships.excludedByGroup.has(user.externalId.toLowerCase())) return false;
  }
  return true;
}

/** The administrative-unit memberships a group filter needs resolved. */
export interface AdministrativeUnitMemberships {
  /** Ids of the groups that are members of the filter's `includeAdministrativeUnit:` units. */
  included?: ReadonlySet<string>;
  /** Ids of the groups that are members of the filter's `excludeAdministrativeUnit:` units. */
  excluded?: ReadonlySet<string>;
}

/**
 * Whether a group passes a `sync.groupFilter`: names compared case-insensitively after
 * trimming, administrative units by the group's object id.
 * @throws {TypeError} when the filter has administrative-unit clauses and `units` lacks their
 *   members (a programming error).
 */
export function groupPassesFilter(
  filter: EntraGroupFilter | null,
  group: Pick<DirectoryGroup, "externalId" | "name">,
  units: AdministrativeUnitMemberships = {},
): boolean {
  if (filter === null) return true;
  const name = group.name.trim().toLowerCase();
  if (filter.includeNames.size > 0 && !filter.includeNames.has(name)) return false;
  if (filter.excludeNames.has(name)) return false;
  const id = group.externalId.toLowerCase();
  if (filter.includeAdministrativeUnits.size > 0) {
    if (units.included === undefined) {
      throw new TypeError("groupPassesFilter: administrative-unit members were not resolved");
    }
    if (!units.included.has(id)) return false;
  }
  if (filter.excludeAdministrativeUnits.size > 0) {
    if (units.excluded === undefined) {
      throw new TypeError("groupPassesFilter: administrative-unit members were not resolved");
    }
    if (units.excluded.has(id)) return false;
  }
  return true;
}

/**
 * Whether the engine or the provider applies `sync.userFilter` / `sync.groupFilter`: the engine
 * when each is absent or a single `include:`/`exclude:` clause (the engine's set filter, which
 * also applies after a delta merge), the provider otherwise (group and administrative-unit
 * clauses, several clauses).
 */
export function entraFilterHandling(sync: Pick<Config["sync"], "userFilter" | "groupFilter">) {
  const simple = (text: string | undefined) => {
    if (text === undefined || text.trim() === "") return true;
    if (text.includes("|")) return false;
    const keyword = text.slice(0, Math.max(0, text.indexOf(":"))).trim().toLowerCase();
    return keyword === "include" || keyword === "exclude";
  };
  const handling: FilterHandling = simple(sync.userFilter) && simple(sync.groupFilter)
    ? "engine"
    : "provider";
  return handling;
}

/**
 * Checks both filters' syntax.
 * @throws {ConfigError} naming the setting and the malformed clause.
 */
export function validateEntraFilters(sync: Pick<Config["sync"], "userFilter" | "groupFilter">) {
  parseEntraUserFilter(sync.userFilter);
  parseEntraGroupFilter(sync.groupFilter);
}
