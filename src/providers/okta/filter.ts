/**
 * Okta filters: bwdc's `include:`/`exclude:` set part, then `|` and a native Okta expression
 * sent as the list call's `filter` parameter (as bwdc sends it) or, when it starts with
 * `search:`, as its `search` parameter. Checked before any request, lightly: the grammar
 * (`attribute operator "value"`, `and`, `or`, parentheses), the attributes and operators Okta
 * documents for each parameter, and Okta's refusals (`ne`, `not`). The server still has the
 * last word on values.
 *
 * What Okta documents, and this module follows:
 * - `filter` on users: `status`, `lastUpdated`, `id`, `profile.login`, `profile.email`,
 *   `profile.firstName`, `profile.lastName`; on groups: `id`, `type`, `lastUpdated`,
 *   `lastMembershipUpdated`; `eq` only, plus `gt`/`ge`/`lt`/`le` on the date attributes.
 * - `search` on users: any `profile.*` attribute and `id`, `status`, `created`, `activated`,
 *   `statusChanged`, `lastUpdated`, `type.id`; on groups any `profile.*` attribute and `id`,
 *   `type`, `created`, `lastUpdated`, `lastMembershipUpdated`; operators `eq`, `sw`, `co`,
 *   `pr`, `gt`, `ge`, `lt`, `le`.
 * - Without a `filter` or `search`, `/api/v1/users` leaves out DEPROVISIONED users; with
 *   either, they are included when they match.
 * @module
 */

import { ConfigError } from "../../errors.ts";
import type { SetFilter } from "../../engine/filter.ts";
import { type FilterSetting, splitFilter } from "../filter_parts.ts";

/** The Okta list parameter a native expression is sent as. */
export type OktaParameter = "filter" | "search";

/** A native Okta expression and the parameter it goes in. */
export interface OktaExpression {
  parameter: OktaParameter;
  /** The expression, without the `search:` prefix. */
  expression: string;
}

/** One Okta filter setting, parsed. */
export interface OktaFilter {
  /** The include/exclude set the engine applies, or null. */
  set: SetFilter | null;
  /** The native expression, or null. */
  native: OktaExpression | null;
}

/** The query parameters of one list call (`filter` and/or `search`; none for a plain list). */
export type OktaQuery = Partial<Record<OktaParameter, string>>;

const OPERATORS = new Set(["eq", "ne", "gt", "ge", "lt", "le", "sw", "co", "pr"]);
const COMPARISONS = new Set(["gt", "ge", "lt", "le"]);
const DATE_ATTRIBUTES = new Set([
  "created",
  "activated",
  "statusChanged",
  "lastUpdated",
  "lastMembershipUpdated",
]);
const ATTRIBUTES: Record<"users" | "groups", Record<OktaParameter, ReadonlySet<string>>> = {
  users: {
    filter: new Set([
      "status",
      "lastUpdated",
      "id",
      "profile.login",
      "profile.email",
      "profile.firstName",
      "profile.lastName",
    ]),
    search: new Set([
      "id",
      "status",
      "created",
      "activated",
      "statusChanged",
      "lastUpdated",
      "type.id",
    ]),
  },
  groups: {
    filter: new Set(["id", "type", "lastUpdated", "lastMembershipUpdated"]),
    search: new Set(["id", "type", "created", "lastUpdated", "lastMembershipUpdated"]),
  },
};

type Token = { kind: "word" | "string" | "open" | "close"; text: string };

function tokenize(expression: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expression.length) {
    const c = expression.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")") {
      tokens.push({ kind: c === "(" ? "open" : "close", text: c });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < expression.length && expression.charAt(j) !== '"') {
        j += expression.charAt(j) === "\\" ? 2 : 1;
      }
      if (j >= expression.length) return `unterminated string from ${expression.slice(i)}`;
      tokens.push({ kind: "string", text: expression.slice(i, j + 1) });
      i = j + 1;
    } else {
      let j = i;
      while (j < expression.length && !/[\s()"]/.test(expression.charAt(j))) j++;
      tokens.push({ kind: "word", text: expression.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

/**
 * Checks an Okta expression for `parameter` on `target` (`users` or `groups`). Returns null
 * when it is acceptable, else what is wrong, in words.
 */
export function checkOktaExpression(
  expression: string,
  options: { parameter: OktaParameter; target: "users" | "groups" },
): string | null {
  const tokens = tokenize(expression);
  if (typeof tokens === "string") return tokens;
  if (tokens.length === 0) return "the expression is empty";
  const allowed = ATTRIBUTES[options.target][options.parameter];
  let pos = 0;
  let problem: string | null = null;
  const fail = (message: string): false => {
    problem ??= message;
    return false;
  };
  const comparison = (): boolean => {
    const token = tokens[pos];
    if (token === undefined) return fail("the expression ends where a comparison should start");
    if (token.kind === "open") {
      pos++;
      if (!disjunction()) return false;
      if (tokens[pos]?.kind !== "close") return fail("a ( is not closed");
      pos++;
      return true;
    }
    if (token.kind !== "word") return fail(`an attribute is expected before ${token.text}`);
    const attribute = token.text;
    if (attribute.toLowerCase() === "not") return fail("Okta does not support not");
    const op = tokens[pos + 1];
    if (op === undefined || op.kind !== "word" || !OPERATORS.has(op.text.toLowerCase())) {
      return fail(`${attribute} must be followed by an operator (eq, gt, ge, lt, le, sw, co, pr)`);
    }
    const operator = op.text.toLowerCase();
    pos += 2;
    if (operator === "ne") return fail("Okta does not support ne");
    const isProfile = options.parameter === "search" && attribute.startsWith("profile.") &&
      attribute.length > "profile.".length;
    if (!allowed.has(attribute) && !isProfile) {
      const other = options.parameter === "filter" ? "search" : "filter";
      const otherAllows = ATTRIBUTES[options.target][other].has(attribute) ||
        (other === "search" && attribute.startsWith("profile."));
      return fail(
        `${attribute} cannot be used in a ${options.target} ${options.parameter}` +
          (otherAllows ? ` (it can in a ${other}: prefix the expression with ${other}:)` : ""),
      );
    }
    if (options.parameter === "filter") {
      const ok = operator === "eq" || (COMPARISONS.has(operator) && DATE_ATTRIBUTES.has(attribute));
      if (!ok) {
        return fail(
          `${operator} on ${attribute} is not supported in a filter` +
            (COMPARISONS.has(operator) || operator === "eq" ? "" : " (use search: for sw, co, pr)"),
        );
      }
    }
    if (operator === "pr") return true;
    const value = tokens[pos];
    if (value === undefined) return fail(`${attribute} ${operator} needs a value`);
    const bare = value.kind === "word" && /^(true|false|-?\d+)$/.test(value.text);
    if (value.kind !== "string" && !bare) {
      return fail(`the value after ${attribute} ${operator} must be in double quotes`);
    }
    if (value.kind === "string" && DATE_ATTRIBUTES.has(attribute)) {
      if (Number.isNaN(Date.parse(value.text.slice(1, -1)))) {
        return fail(`${value.text} is not a date (use ISO 8601, e.g. "2026-01-31T00:00:00.000Z")`);
      }
    }
    pos++;
    return true;
  };
  const conjunction = (): boolean => {
    if (!comparison()) return false;
    while (tokens[pos]?.kind === "word" && tokens[pos]?.text.toLowerCase() === "and") {
      pos++;
      if (!comparison()) return false;
    }
    return true;
  };
  const disjunction = (): boolean => {
    if (!conjunction()) return false;
    while (tokens[pos]?.kind === "word" && tokens[pos]?.text.toLowerCase() === "or") {
      pos++;
      if (!conjunction()) return false;
    }
    return true;
  };
  if (!disjunction()) return problem;
  const rest = tokens[pos];
  if (rest !== undefined) {
    return rest.kind === "close"
      ? "a ) has no matching ("
      : `unexpected ${rest.text} (join comparisons with and / or)`;
  }
  return null;
}

/**
 * Parses one Okta filter setting: the set part (see `splitFilter`) and the native part, which
 * is a `filter` expression unless it starts with `search:` (case-insensitive).
 *
 * @throws {ConfigError} naming `setting` and the clause when either part is invalid.
 */
export function parseOktaFilter(text: string | undefined, setting: FilterSetting): OktaFilter {
  const parts = splitFilter(text, setting);
  if (parts.native === null) return { set: parts.set, native: null };
  const prefixed = /^search\s*:/i.exec(parts.native);
  const native: OktaExpression = prefixed === null
    ? { parameter: "filter", expression: parts.native }
    : { parameter: "search", expression: parts.native.slice(prefixed[0].length).trim() };
  const target = setting === "sync.userFilter" ? "users" : "groups";
  const problem = checkOktaExpression(native.expression, { parameter: native.parameter, target });
  if (problem !== null) {
    throw new ConfigError(`Invalid Okta ${native.parameter} in ${setting}: ${problem}`, {
      hint: `Fix the part after | in ${setting}: an Okta ${native.parameter} expression such ` +
        `as ${
          target === "users" ? 'status eq "ACTIVE"' : 'type eq "OKTA_GROUP"'
        }; start it with search: to send it as Okta's search parameter instead of filter`,
      details: { setting, clause: parts.native },
    });
  }
  return { set: parts.set, native };
}

/** Checks both filter settings; throws the first {@link ConfigError}. */
export function validateOktaFilters(settings: { userFilter?: string; groupFilter?: string }): void {
  parseOktaFilter(settings.userFilter, "sync.userFilter");
  parseOktaFilter(settings.groupFilter, "sync.groupFilter");
}

/** `(left) and right`: the native expression is parenthesised so that its `or`s stay inside. */
function and(left: string, right: string): string {
  return `(${left}) and ${right}`;
}

/** A `<attribute> gt "<ISO time>"` clause (Okta's timestamp format, milliseconds, UTC). */
export function sinceClause(
  attribute: "lastUpdated" | "lastMembershipUpdated",
  since: Date,
): string {
  return `${attribute} gt "${since.toISOString()}"`;
}

/**
 * The `/api/v1/users` calls that together list every user the filter asks for, including the
 * DEPROVISIONED ones Okta leaves out of a plain listing:
 * - no native expression and no `since`: a plain listing and `filter=status eq "DEPROVISIONED"`;
 * - otherwise one call whose `filter` (or `search`) is the native expression, combined with
 *   `lastUpdated gt "<since>"` by `and` when `since` is given (as bwdc does), since a filter or
 *   search already includes DEPROVISIONED users.
 */
export function oktaUserQueries(
  native: OktaExpression | null,
  options: { since?: Date } = {},
): OktaQuery[] {
  const since = options.since === undefined ? null : sinceClause("lastUpdated", options.since);
  if (native === null) {
    return since === null ? [{}, { filter: 'status eq "DEPROVISIONED"' }] : [{ filter: since }];
  }
  const expression = since === null ? native.expression : and(native.expression, since);
  return [{ [native.parameter]: expression }];
}

/**
 * The `/api/v1/groups` call for the filter. With `since`, only groups whose `lastUpdated` or
 * `lastMembershipUpdated` is later (Okta's group `lastUpdated` does not move when only the
 * members change).
 */
export function oktaGroupQuery(
  native: OktaExpression | null,
  options: { since?: Date } = {},
): OktaQuery {
  const since = options.since === undefined
    ? null
    : `(${sinceClause("lastUpdated", options.since)} or ${
      sinceClause("lastMembershipUpdated", options.since)
    })`;
  if (native === null) return since === null ? {} : { filter: since };
  const expression = since === null ? native.expression : and(native.expression, since);
  return { [native.parameter]: expression };
}
