/**
 * `sync.userFilter` / `sync.groupFilter` for Google Workspace, in bwdc's syntax:
 * `include:a,b` or `exclude:a,b` on emails (users) or names (groups), then optionally `|` and a
 * native Directory API `query` (e.g. `include:ann@example.com|orgUnitPath='/Sales'`, or
 * `|isSuspended=false` alone).
 *
 * The set part is split from its values at the first `:` only, so values may contain `:`
 * (bwdc splits on every `:` and then silently drops the whole filter). Everything is checked
 * here, before any request: an unknown keyword, an empty value list, or a query clause that is
 * not `field<op>value` with a field Google's search syntax knows is a {@link ConfigError}
 * naming the setting and the clause, where bwdc would send it and fail or filter nothing. The
 * set itself is applied by the engine (`src/engine/filter.ts`), the query by Google.
 * @module
 */

import { parseSetFilter, type SetFilter } from "../../engine/filter.ts";
import { ConfigError } from "../../errors.ts";

/** The setting a filter comes from. */
export type GoogleFilterSetting = "sync.userFilter" | "sync.groupFilter";

/** A checked filter. */
export interface GoogleFilter {
  /** The include/exclude set, or null when there is none. */
  set: SetFilter | null;
  /** The native query to send as `query=`, or null when there is none. */
  query: string | null;
}

/**
 * Fields of Google's user search syntax (`users.list` `query`), lowercased. Custom schema
 * fields (`Schema.field`) are accepted too.
 */
const USER_FIELDS = new Set([
  "name",
  "email",
  "givenname",
  "familyname",
  "isadmin",
  "isdelegatedadmin",
  "issuspended",
  "isarchived",
  "isenrolledin2sv",
  "isenforcedin2sv",
  "ischangepasswordatnextlogin",
  "im",
  "externalid",
  "manager",
  "managerid",
  "directmanager",
  "directmanagerid",
  "address",
  "addresspobox",
  "addressextended",
  "addressstreet",
  "addresslocality",
  "addressregion",
  "addresspostalcode",
  "addresscountry",
  "orgname",
  "orgtitle",
  "orgdepartment",
  "orgdescription",
  "orgcostcenter",
  "orgunitpath",
  "phone",
]);

/** Fields of Google's group search syntax (`groups.list` `query`), lowercased. */
const GROUP_FIELDS = new Set(["email", "name", "memberkey"]);

/** Boolean fields: their value must be `true` or `false`. */
const BOOLEAN_FIELDS = new Set([
  "isadmin",
  "isdelegatedadmin",
  "issuspended",
  "isarchived",
  "isenrolledin2sv",
  "isenforcedin2sv",
  "ischangepasswordatnextlogin",
]);

const EXAMPLES: Record<GoogleFilterSetting, string> = {
  "sync.userFilter": "include:ann@example.com,bob@example.com|orgUnitPath='/Sales'",
  "sync.groupFilter": "exclude:All staff|email:team*",
};

function invalid(setting: GoogleFilterSetting, clause: string, detail: string): ConfigError {
  return new ConfigError(`Invalid ${setting} "${clause}": ${detail}`, {
    hint: `Write ${setting} as include:… or exclude:… (comma-separated ${
      setting === "sync.userFilter" ? "emails" : "group names"
    }), optionally followed by | and a Google Directory API query, e.g. ${EXAMPLES[setting]}`,
    details: { setting, clause },
  });
}

/** Splits a query into clauses: `field`, operator, value (quoted values may hold spaces). */
function queryClauses(
  query: string,
  setting: GoogleFilterSetting,
): { text: string; field: string; op: string; value: string }[] {
  const clauses: { text: string; field: string; op: string; value: string }[] = [];
  let pos = 0;
  while (pos < query.length) {
    const rest = query.slice(pos);
    const head = /^([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?)(<=|>=|:|=|<|>)/.exec(rest);
    const word = /^\S+/.exec(rest)?.[0] ?? rest;
    if (head === null) throw invalid(setting, word, "not a field:value or field=value clause");
    let end = head[0].length;
    let value: string;
    const quote = rest[end];
    if (quote === "'" || quote === '"') {
      const close = rest.indexOf(quote, end + 1);
      if (close === -1) throw invalid(setting, rest, `the ${quote} quote is not closed`);
      value = rest.slice(end + 1, close);
      end = close + 1;
    } else {
      const space = rest.slice(end).search(/\s/);
      const stop = space === -1 ? rest.length : end + space;
      value = rest.slice(end, stop);
      end = stop;
    }
    const text = rest.slice(0, end);
    if (value === "") throw invalid(setting, text, "the clause has no value");
    clauses.push({ text, field: head[1] ?? "", op: head[2] ?? "", value });
    pos += end;
    while (pos < query.length && /\s/.test(query[pos] ?? "")) pos++;
  }
  return clauses;
}

function checkQuery(query: string, setting: GoogleFilterSetting): void {
  if (query.includes("|")) {
    throw invalid(setting, query, "a query holds no |; only the first | separates it");
  }
  const fields = setting === "sync.userFilter" ? USER_FIELDS : GROUP_FIELDS;
  for (const clause of queryClauses(query, setting)) {
    const field = clause.field.toLowerCase();
    const custom = setting === "sync.userFilter" && field.includes(".");
    if (!custom && !fields.has(field)) {
      throw invalid(
        setting,
        clause.text,
        `${clause.field} is not a field of Google's ${
          setting === "sync.userFilter" ? "user" : "group"
        } search`,
      );
    }
    if (BOOLEAN_FIELDS.has(field) && !/^(true|false)$/i.test(clause.value)) {
      throw invalid(setting, clause.text, `${clause.field} takes true or false`);
    }
  }
}

/**
 * Parses and checks a Google filter.
 * @param filter The setting's value; undefined or blank means no filter.
 * @param setting Which setting it is: users are matched by email, groups by name, and the
 *   query fields differ.
 * @returns The set (applied by the engine) and the native query (sent as `query=`).
 * @throws {ConfigError} naming the setting and the clause for an unknown keyword, a set with no
 *   values, or a query clause Google's search syntax does not have.
 */
export function parseGoogleFilter(
  filter: string | undefined,
  setting: GoogleFilterSetting,
): GoogleFilter {
  const text = (filter ?? "").trim();
  if (text === "") return { set: null, query: null };
  const bar = text.indexOf("|");
  const setPart = (bar === -1 ? text : text.slice(0, bar)).trim();
  const query = bar === -1 ? "" : text.slice(bar + 1).trim();
  let set: SetFilter | null = null;
  if (setPart !== "") {
    const colon = setPart.indexOf(":");
    const keyword = colon === -1 ? setPart : setPart.slice(0, colon).trim().toLowerCase();
    if (colon === -1 || (keyword !== "include" && keyword !== "exclude")) {
      throw invalid(setting, setPart, "it does not start with include: or exclude:");
    }
    set = parseSetFilter(setPart);
    if (set === null || set.values.size === 0) {
      throw invalid(setting, setPart, `${keyword}: lists no values`);
    }
  }
  if (query !== "") checkQuery(query, setting);
  return { set, query: query === "" ? null : query };
}
