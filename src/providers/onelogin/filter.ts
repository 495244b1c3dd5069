/**
 * OneLogin filters: bwdc's `include:`/`exclude:` set part, then `|` and a native part of
 * OneLogin query parameters, `name=value&name=value`, added to the user listing
 * (`sync.userFilter`) or the role listing (`sync.groupFilter`). Checked before any request:
 * names against the parameters OneLogin documents for that listing, each at most once, each
 * with a value, and the date parameters as ISO 8601. Paging and projection (`limit`, `page`,
 * `cursor`, `fields`) are roster's and refused.
 * @module
 */

import { ConfigError } from "../../errors.ts";
import type { SetFilter } from "../../engine/filter.ts";
import { type FilterSetting, splitFilter } from "../filter_parts.ts";

/** The query parameters OneLogin documents for `GET /api/2/users`, besides paging. */
export const ONELOGIN_USER_PARAMETERS: ReadonlySet<string> = new Set([
  "created_since",
  "created_until",
  "updated_since",
  "updated_until",
  "last_login_since",
  "last_login_until",
  "firstname",
  "lastname",
  "email",
  "username",
  "samaccountname",
  "directory_id",
  "external_id",
  "user_ids",
  "app_id",
  "group_id",
]);

/** The query parameters OneLogin documents for `GET /api/2/roles`, besides paging. */
export const ONELOGIN_ROLE_PARAMETERS: ReadonlySet<string> = new Set([
  "name",
  "app_id",
  "app_name",
]);

/** Parameters roster sets itself. */
const RESERVED = new Set(["limit", "page", "cursor", "fields"]);

/** One OneLogin filter setting, parsed. */
export interface OneLoginFilter {
  /** The include/exclude set the engine applies, or null. */
  set: SetFilter | null;
  /** The native query parameters, in the order written (empty when none). */
  params: [string, string][];
}

function invalid(setting: FilterSetting, clause: string, detail: string, hint: string) {
  return new ConfigError(`Invalid OneLogin query in ${setting}: ${detail}`, {
    hint,
    details: { setting, clause },
  });
}

/**
 * Parses one OneLogin filter setting: the set part (see `splitFilter`) and the native query.
 * A leading `?` is allowed; values are URL-decoded as in a query string.
 *
 * @throws {ConfigError} naming `setting` and the clause when either part is invalid.
 */
export function parseOneLoginFilter(
  text: string | undefined,
  setting: FilterSetting,
): OneLoginFilter {
  const parts = splitFilter(text, setting);
  if (parts.native === null) return { set: parts.set, params: [] };
  const native = parts.native.startsWith("?") ? parts.native.slice(1) : parts.native;
  const allowed = setting === "sync.userFilter"
    ? ONELOGIN_USER_PARAMETERS
    : ONELOGIN_ROLE_PARAMETERS;
  const listing = setting === "sync.userFilter" ? "users" : "roles";
  const known = [...allowed].join(", ");
  const params: [string, string][] = [];
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(native)) {
    if (RESERVED.has(name)) {
      throw invalid(
        setting,
        parts.native,
        `${name} is set by roster`,
        `Remove ${name}= from the part after | in ${setting}: roster pages the listing itself`,
      );
    }
    const custom = listing === "users" && /^custom_attributes\.[A-Za-z0-9_]+$/.test(name);
    if (!allowed.has(name) && !custom) {
      throw invalid(
        setting,
        parts.native,
        `unknown parameter ${JSON.stringify(name)} for the ${listing} listing`,
        `Use name=value pairs joined by & after | in ${setting}, with names from: ${known}` +
          (listing === "users" ? ", custom_attributes.<name>" : ""),
      );
    }
    if (seen.has(name)) {
      throw invalid(
        setting,
        parts.native,
        `${name} is given twice`,
        `Give ${name} once in ${setting}`,
      );
    }
    seen.add(name);
    if (value.trim() === "") {
      throw invalid(
        setting,
        parts.native,
        `${name} has no value`,
        `Give ${name} a value in ${setting} (name=value), or remove it`,
      );
    }
    if (/_(since|until)$/.test(name) && Number.isNaN(Date.parse(value))) {
      throw invalid(
        setting,
        parts.native,
        `${name}=${value} is not a date`,
        `Write ${name} in ISO 8601 in ${setting}, e.g. ${name}=2026-01-31T00:00:00Z`,
      );
    }
    params.push([name, value.trim()]);
  }
  return { set: parts.set, params };
}

/** Checks both filter settings; throws the first {@link ConfigError}. */
export function validateOneLoginFilters(
  settings: { userFilter?: string | undefined; groupFilter?: string | undefined },
): void {
  parseOneLoginFilter(settings.userFilter, "sync.userFilter");
  parseOneLoginFilter(settings.groupFilter, "sync.groupFilter");
}
