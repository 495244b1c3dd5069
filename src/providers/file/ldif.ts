/**
 * LDIF files, read with exactly the rules of a live LDAP server (the shared helpers in
 * `src/ldap/`): object classes, email, group name and member attributes,
 * `sync.userPath`/`groupPath` under `directory.file.rootPath` (subtree scope),
 * `sync.userFilter`/`groupFilter` as LDAP filters evaluated by roster, and AD mode
 * (`directory.file.ad`: objectGUID, userAccountControl, deleted objects).
 * @module
 */

import type { FileSettings } from "./mod.ts";
import { ConfigError, DirectoryDataError, errorMessage } from "../../errors.ts";
import { DnSyntaxError, normalizeDn, normalizeRdns, parseDn } from "../../ldap/dn.ts";
import {
  deletedUserSearchFilter,
  entryToGroup,
  entryToUser,
  groupAttributes,
  groupSearchFilter,
  type LdapEntry,
  ldapMappingSettings,
  type PooledDn,
  RefPool,
  searchBase,
  userAttributes,
  userSearchFilter,
} from "../../ldap/entry.ts";
import {
  filterAttributes,
  type LdapFilter,
  matchesFilter,
  parseLdapFilter,
  unsupportedMatchingRules,
  validateLdapFilter,
} from "../../ldap/filter.ts";
import { readLdifBatches } from "../../ldap/ldif.ts";
import type { Item } from "./records.ts";

/** The LDIF reading rules resolved from the settings. */
export interface LdifRules {
  settings: ReturnType<typeof ldapMappingSettings>;
  userFilter: LdapFilter;
  groupFilter: LdapFilter;
  deletedFilter: LdapFilter;
  userBase: string;
  groupBase: string;
  /** Base of AD deleted objects, or undefined to accept `CN=Deleted Objects` anywhere. */
  deletedBase: string | undefined;
  /**
   * The attribute types the mapping and the filters read (the LDIF reader keeps only these),
   * or undefined for all of them (a filter reads every attribute).
   */
  attributes: string[] | undefined;
  notices: Item[];
}

/**
 * The attribute types reading users and groups uses: those `entryToUser` and `entryToGroup`
 * read (the live search's attribute lists, plus AD's primaryGroupToken, which an export may
 * hold) and those the filters test; undefined when a filter tests every attribute.
 */
function usedAttributes(
  settings: LdifRules["settings"],
  filters: LdapFilter[],
): string[] | undefined {
  const names = new Set<string>();
  for (const name of [...userAttributes(settings), ...groupAttributes(settings)]) {
    names.add(name.toLowerCase());
  }
  if (settings.ad) names.add("primarygrouptoken");
  for (const filter of filters) {
    const tested = filterAttributes(filter);
    if (tested === undefined) return undefined;
    for (const name of tested) names.add(name);
  }
  return [...names];
}

/**
 * Checks an LDAP filter for an LDIF file: RFC 4515 syntax, and only the matching rules roster
 * evaluates itself. Throws a `ConfigError` naming `setting`.
 */
export function checkedFilter(text: string | undefined, setting: string): void {
  if (text === undefined) return;
  validateLdapFilter(text, setting);
  const unsupported = unsupportedMatchingRules(parseLdapFilter(text));
  if (unsupported.length > 0) {
    throw new ConfigError(
      `Unsupported LDAP filter in ${setting} for a file: matching rule ${
        unsupported.join(", ")
      } needs a live directory server`,
      {
        hint: `Change ${setting}: with an LDIF file roster evaluates filters itself and supports ` +
          "equality, presence, substrings, >=, <=, ~= and the AD bitwise rules " +
          "1.2.840.113556.1.4.803/804 (LDAP_MATCHING_RULE_IN_CHAIN is not supported)",
        details: { setting, rules: unsupported },
      },
    );
  }
}

function checkedBase(base: string, settings: string): string {
  try {
    parseDn(base);
    return base;
  } catch (error) {
    const detail = error instanceof DnSyntaxError ? error.message : errorMessage(error);
    throw new ConfigError(`Invalid search base "${base}": ${detail}`, {
      hint: `Fix ${settings}: each must be a DN such as ou=People or dc=example,dc=com`,
      details: { base },
    });
  }
}

/** `CN=Deleted Objects` under the domain part of a root DN (from its first `dc=` RDN on). */
function deletedObjectsBase(rootPath: string): string {
  const rdns = normalizeRdns(rootPath);
  const first = rdns.findIndex((rdn) => rdn.split("+").some((ava) => ava.startsWith("dc=")));
  return ["cn=deleted objects", ...rdns.slice(Math.max(first, 0))].join(",");
}

/** Checks the settings and resolves the LDIF rules; throws a `ConfigError` naming the setting. */
export function ldifRules(config: FileSettings): LdifRules {
  const file = config.file;
  const settings = ldapMappingSettings(config.sync, { ad: file.ad });
  checkedFilter(settings.userFilter, "sync.userFilter");
  checkedFilter(settings.groupFilter, "sync.groupFilter");
  const notices: Item[] = [];
  const root = file.rootPath;
  // Without a root DN, relative paths cannot be placed: only explicit paths apply, as full DNs.
  const userPath = root === undefined ? config.sync.userPath : settings.userPath;
  const groupPath = root === undefined ? config.sync.groupPath : settings.groupPath;
  if (
    root === undefined && file.ad &&
    (config.sync.userPath === undefined || config.sync.groupPath === undefined)
  ) {
    notices.push({
      kind: "notice",
      code: "pathDefaultNotApplied",
      level: "info",
      message: "directory.file.rootPath is not set, so the AD default path CN=Users is not " +
        "applied: users and groups are read from the whole file",
    });
  }
  const pathSettings = root === undefined
    ? "sync.userPath and sync.groupPath"
    : "directory.file.rootPath, sync.userPath and sync.groupPath";
  if (root !== undefined) checkedBase(root, "directory.file.rootPath");
  const userBase = checkedBase(searchBase(root, userPath), pathSettings);
  const groupBase = checkedBase(searchBase(root, groupPath), pathSettings);
  const userFilter = parseLdapFilter(userSearchFilter(settings));
  const groupFilter = parseLdapFilter(groupSearchFilter(settings));
  const deletedFilter = parseLdapFilter(deletedUserSearchFilter(settings));
  return {
    settings,
    userFilter,
    groupFilter,
    deletedFilter,
    userBase,
    groupBase,
    deletedBase: root === undefined ? undefined : deletedObjectsBase(root),
    attributes: usedAttributes(settings, [userFilter, groupFilter, deletedFilter]),
    notices,
  };
}

/**
 * Whether a normalised DN is `base` or under it (both in `normalizeDn` form): the same answer
 * as `isDnWithin` on the raw DNs, without parsing either again. The canonical form escapes every
 * `,` inside a value, so the base starts at an RDN boundary exactly when the character before it
 * is a `,` preceded by an even number of backslashes.
 */
export function normalizedDnWithin(dn: string, base: string): boolean {
  if (base === "" || dn === base) return true;
  if (dn.length <= base.length + 1 || !dn.endsWith(base)) return false;
  let at = dn.length - base.length - 1;
  if (dn.charCodeAt(at) !== 44) return false;
  let backslashes = 0;
  while (--at >= 0 && dn.charCodeAt(at) === 92) backslashes++;
  return backslashes % 2 === 0;
}

function inDeletedObjects(entry: LdapEntry, key: string, rules: LdifRules): boolean {
  if (rules.deletedBase !== undefined) return normalizedDnWithin(key, rules.deletedBase);
  try {
    const rdns = parseDn(entry.dn);
    return rdns.slice(1).some((rdn) =>
      rdn.length === 1 && rdn[0]?.type.toLowerCase() === "cn" &&
      rdn[0].value.toLowerCase() === "deleted objects"
    );
  } catch {
    return false;
  }
}

/**
 * The member attribute, as the attribute whose values the LDIF reader may give as views of
 * the text: they are only looked up (and copied by the pool when new). Not when the same
 * attribute also gives a value that is kept as it is (an email, a name, a uid, an object
 * class), which a view would tie to its whole chunk of the file.
 */
function memberViews(s: LdifRules["settings"]): string[] {
  const member = s.memberAttribute.toLowerCase();
  const kept = [
    s.userEmailAttribute,
    s.emailPrefixAttribute,
    s.groupNameAttribute,
    "cn",
    "uid",
    "objectClass",
  ];
  return kept.some((name) => name?.toLowerCase() === member) ? [] : [s.memberAttribute];
}

/** Options of {@link ldifItems}. */
export interface LdifItemsOptions {
  /** The file's path, for errors. */
  path: string;
  /** The reading rules ({@link ldifRules}). */
  rules: LdifRules;
  /**
   * Set to the number of line breaks read after each chunk of text (see `readLdif`'s
   * `lines`), for `decodeText`'s `linesRead`. Default: not kept.
   */
  lines?: { read: number };
}

/**
 * Reads LDIF entries from `text` (the file's decoded text, see `decodeText`) and yields the
 * users, groups, skipped entries and notices, in batches (one per chunk of text).
 */
export async function* ldifItems(
  text: AsyncIterable<string>,
  options: LdifItemsOptions,
): AsyncGenerator<Item[]> {
  const { path, rules } = options;
  if (rules.notices.length > 0) yield rules.notices;
  const s = rules.settings;
  // Each DN text is normalised once: the record's own DN at its dn: line (which also checks
  // it), a member value the first time it is met; all the references to one DN, and the
  // entry's own DN when it is canonical, then share one string.
  // Member values are views of the text (most are looked up, found, and dropped); the pool
  // copies what it keeps. The pool's entry for each DN also holds the line of the record with
  // that DN, which finds a duplicate record without a set of DNs of its own.
  const pool = new RefPool({ cacheDnText: true, copyNew: true });
  // The pool's entries of the DNs given to `dnKey` not yet met in a batch, in record order:
  // the reader calls `dnKey` once per record, at its dn: line, and yields the records in
  // order, so the first entries of a batch are those of its records (the DN is not looked up
  // twice).
  const dns: PooledDn[] = [];
  const userBase = normalizeDn(rules.userBase);
  const groupBase = normalizeDn(rules.groupBase);
  let users = 0;
  let usersOutside = 0;
  const entries = readLdifBatches(text, {
    source: path,
    dnKey: (dnText) => {
      const dn = pool.dnEntry(dnText);
      dns.push(dn);
      return dn.ref;
    },
    views: memberViews(s),
    ...(options.lines === undefined ? {} : { lines: options.lines }),
    ...(rules.attributes === undefined ? {} : { attributes: rules.attributes }),
  });
  for await (const batch of entries) {
    const items: Item[] = [];
    for (let k = 0; k < batch.length; k++) {
      const entry = batch[k];
      if (entry === undefined) continue;
      const dn = dns[k] ?? pool.dnEntry(entry.key ?? entry.dn);
      const key = dn.ref;
      if (dn.line !== 0) {
        const first = dn.line;
        throw new DirectoryDataError(
          `Duplicate entry in LDIF ${path} at line ${entry.line}: ${entry.dn} already appears ` +
            `at line ${first}`,
          {
            hint: "Remove one of the two records (a directory has one entry per DN)",
            details: { path, line: entry.line, dn: entry.dn },
          },
        );
      }
      dn.line = entry.line;

      const deleted = s.ad && matchesFilter(rules.deletedFilter, entry);
      if (deleted) {
        // A live AD returns tombstones only from the Deleted Objects container.
        if (inDeletedObjects(entry, key, rules)) {
          users++;
          items.push({
            kind: "user",
            user: entryToUser(entry, s, { deleted: true, pool, ref: key }),
          });
        }
        continue;
      }
      if (matchesFilter(rules.userFilter, entry)) {
        if (normalizedDnWithin(key, userBase)) {
          users++;
          items.push({ kind: "user", user: entryToUser(entry, s, { pool, ref: key }) });
        } else usersOutside++;
      }
      if (matchesFilter(rules.groupFilter, entry) && normalizedDnWithin(key, groupBase)) {
        const group = entryToGroup(entry, s, { pool, ref: key });
        if ("memberRefs" in group) items.push({ kind: "group", group });
        else items.push({ kind: "skipped", entry: group });
      }
    }
    dns.splice(0, batch.length);
    if (items.length > 0) yield items;
  }
  if (usersOutside > 0) {
    yield [{
      kind: "notice",
      code: "entriesOutsideBase",
      level: users === 0 ? "warn" : "info",
      message: `${usersOutside} user entries in ${path} are outside the user search base ` +
        `"${rules.userBase}" and were left out`,
    }];
  }
}
