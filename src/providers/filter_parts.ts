/**
 * Splits a cloud source's `sync.userFilter` / `sync.groupFilter` into bwdc's two parts and
 * checks the first: `include:a,b` or `exclude:a,b` (emails for users, group names for groups),
 * then optionally `|` and a native query the source sends to its API.
 *
 * The set part is parsed by the engine's rules (`src/engine/filter.ts`: keyword split from the
 * values at the first `:`, values comma-separated, trimmed, lowercased); the engine applies it.
 * Stricter than bwdc, which silently ignores a set part it cannot read: a non-empty set part
 * that is not `include:`/`exclude:` with at least one value is a `ConfigError`, because an
 * ignored filter syncs more than the admin asked for, and an empty `include:` would keep nobody.
 * @module
 */

import { nativeQuery, parseSetFilter, type SetFilter } from "../engine/filter.ts";
import { ConfigError } from "../errors.ts";

/** The filter settings of a source. */
export type FilterSetting = "sync.userFilter" | "sync.groupFilter";

/** A filter split into its parts. */
export interface FilterParts {
  /** The include/exclude set, or null when the part before `|` is empty (or there is no filter). */
  set: SetFilter | null;
  /** The trimmed text after the first `|`, or null when there is none. */
  native: string | null;
}

/**
 * Splits `text` (the value of `setting`) at the first `|` and checks the set part.
 *
 * @throws {ConfigError} naming `setting` and the clause when the set part is not
 *   `include:`/`exclude:` followed by at least one value.
 */
export function splitFilter(text: string | undefined, setting: FilterSetting): FilterParts {
  if (text === undefined) return { set: null, native: null };
  const bar = text.indexOf("|");
  const setPart = (bar === -1 ? text : text.slice(0, bar)).trim();
  const native = nativeQuery(text);
  if (setPart === "") return { set: null, native };
  const what = setting === "sync.userFilter" ? "emails" : "group names";
  const set = parseSetFilter(setPart);
  if (set === null) {
    throw new ConfigError(
      `Invalid ${setting}: "${setPart}" is not include:… or exclude:…`,
      {
        hint: `Change ${setting} to start with include: or exclude: and comma-separated ${what}` +
          " (e.g. include:a,b), or leave the part before | empty to use only a native query",
        details: { setting, clause: setPart },
      },
    );
  }
  if (set.values.size === 0) {
    throw new ConfigError(`Invalid ${setting}: "${setPart}" lists no ${what}`, {
      hint: `List at least one value after ${set.mode}: in ${setting}, or remove the clause`,
      details: { setting, clause: setPart },
    });
  }
  return { set, native };
}
