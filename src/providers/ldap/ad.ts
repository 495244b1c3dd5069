/**
 * What the `ldap` provider does differently for Active Directory (`directory.ldap.ad`):
 * ranged retrieval of big member lists and the tombstones of deleted users.
 *
 * **Ranged retrieval.** AD returns at most MaxValRange (1,500) values of an attribute per read
 * (`member;range=0-1499`, then `member;range=1500-*` …); Samba only ranges when asked, AD always
 * for big groups. In AD mode the member attribute is always asked for as a range, so both take
 * the same path.
 *
 * **Tombstones.** Every full AD read also lists `CN=Deleted Objects` of the user search base's
 * domain with the show-deleted control (OID 1.2.840.113556.1.4.417), so users deleted from AD
 * are removed from the organization, as bwdc does. A failure there yields the typed notice
 * `deletedObjectsUnreadable` (level `warn`), which stops a sync that would delete or remove
 * anything (see `src/sync/health.ts`).
 * @module
 */

import { errorMessage, SourceIncompleteError } from "../../errors.ts";
import {
  entryToUser,
  groupAttributes,
  type LdapEntry,
  type LdapMappingSettings,
  searchBase,
  userAttributes,
  userSearchFilter,
} from "../../ldap/entry.ts";
import type { DirectoryPage } from "../provider.ts";
import { searchError } from "./errors.ts";
import { type Client, searchOnce } from "./ldapts.ts";
import { search } from "./search.ts";
import type { ReadPlan, SearchSpec } from "./settings.ts";

/**
 * Values of a multi-valued attribute asked for per read in AD mode (`member;range=0-1499`, then
 * `member;range=1500-*` …): AD's default MaxValRange. A server with a smaller limit answers with
 * a shorter range, which is followed the same way.
 */
export const AD_RANGE_STEP = 1500;

/**
 * AD tombstones under `CN=Deleted Objects,<domain root>`, as users with `deleted: true`; any
 * failure is the notice `deletedObjectsUnreadable`, never an error.
 */
export async function* deletedUserPages(
  client: Client,
  plan: ReadPlan,
): AsyncGenerator<DirectoryPage> {
  const s = plan.settings;
  // The domain of the user search base (its trailing DC= components): rootPath may stop above
  // the domain (DC=example,DC=com with userPath DC=corp) or go below it (an OU).
  const userBase = searchBase(plan.rootPath, s.userPath);
  const root = /(?:^|,)\s*(dc=.*)$/i.exec(userBase)?.[1] ?? plan.rootPath;
  const spec: SearchSpec = {
    what: "deleted users",
    base: `CN=Deleted Objects,${root}`,
    baseSetting: "directory.ldap.rootPath",
    // The object class only, not sync.userFilter (as bwdc does, and the file provider):
    // AD strips most attributes (mail, memberOf, …) from tombstones, so a filter on them would
    // hide every deletion. A tombstone of someone roster never synced removes nobody: the
    // server matches removals by externalId (objectGUID).
    filter: `(&${userSearchFilter({ ...s, userFilter: undefined })}(isDeleted=TRUE))`,
    attributes: userAttributes(s),
    showDeleted: true,
  };
  let count = 0;
  try {
    for await (const page of search(client, spec, { plan, referrals: [] })) {
      const users = page.map((raw) => entryToUser(raw, s, { deleted: true, pool: plan.pool }));
      count += users.length;
      yield { kind: "users", users };
    }
  } catch (error) {
    yield {
      kind: "notice",
      code: "deletedObjectsUnreadable",
      level: "warn",
      message: `Cannot query deleted users in ${spec.base}: ${errorMessage(error)}; ` +
        (count > 0 ? `only ${count} were read, so ` : "") +
        "members deleted from Active Directory are not removed in this run (the bind " +
        "account needs the right to list Deleted Objects)",
    };
  }
}

/**
 * The attributes of the group search. In AD mode the member attribute is asked for as a range
 * (`member;range=0-1499`): AD answers a big group that way anyway, and Samba, which otherwise
 * sends every value at once, then pages values like AD, so the same code path runs on both.
 */
export function requestedGroupAttributes(s: LdapMappingSettings): string[] {
  const want = s.memberAttribute.toLowerCase();
  return groupAttributes(s).map((a) =>
    s.ad && a.toLowerCase() === want ? `${a};range=0-${AD_RANGE_STEP - 1}` : a
  );
}

const RANGE = /^(.+);range=(\d+)-(\d+|\*)$/;

/**
 * The first ranged key of `attribute` that holds values (ldapts adds requested attributes the
 * server did not send as empty lists, e.g. `member;range=0-1499` for an empty group).
 */
export function rangedKey(entry: LdapEntry, attribute: string): string | undefined {
  const want = attribute.toLowerCase();
  for (const [key, list] of entry.attributes) {
    const m = RANGE.exec(key);
    if (m !== null && m[1] === want && list.length > 0) return key;
  }
  return undefined;
}

/**
 * Collects every value of a ranged attribute under its plain name. AD returns at most
 * MaxValRange (1,500) values per read (`member;range=0-1499`); this fetches the rest
 * (`member;range=1500-*`, …) on a connection from `open`, opened only when needed. A range
 * ending in `*` is the last; so is an answer without the attribute (Samba omits it when the
 * previous range ended exactly at the last value). A group that vanishes midway throws
 * {@link SourceIncompleteError}.
 */
export async function completeRanges(
  entry: LdapEntry,
  attribute: string,
  plan: ReadPlan,
  open: () => Promise<Client>,
): Promise<LdapEntry> {
  const want = attribute.toLowerCase();
  const attributes = new Map<string, readonly (string | Uint8Array)[]>();
  const values: (string | Uint8Array)[] = [...(entry.attributes.get(want) ?? [])];
  for (const [key, list] of entry.attributes) {
    const m = RANGE.exec(key);
    if (m === null || m[1] !== want) attributes.set(key, list);
  }
  let key = rangedKey(entry, attribute);
  let part: LdapEntry = entry;
  let guard = 0;
  const short = (what: string) =>
    new SourceIncompleteError(
      `LDAP ranged read of ${attribute} of group ${entry.dn} was incomplete: ${what} after ` +
        `${values.length} values`,
      {
        hint: "Check the server's logs and run again; a server that ranges values must " +
          "answer each range from where the last one ended, and end with a range ending in *",
        details: { group: entry.dn, valuesRead: values.length },
      },
    );
  const plain = values.length;
  while (key !== undefined) {
    const m = RANGE.exec(key);
    if (m === null) break;
    // Each range starts where the last one ended; a gap or a short range loses values.
    if (Number(m[2]) !== values.length - plain) {
      throw short(`the server sent ${key} where values from ${values.length} were expected`);
    }
    values.push(...(part.attributes.get(key) ?? []));
    if (m[3] === "*") break;
    if (Number(m[3]) + 1 !== values.length - plain) {
      throw short(`the range ${key} held ${(part.attributes.get(key) ?? []).length} values`);
    }
    if (++guard > 100_000) throw short("more than 100,000 ranges were sent");
    const next = Number(m[3]) + 1;
    const spec: SearchSpec = {
      what: `${attribute} values of group ${entry.dn}`,
      base: entry.dn,
      baseSetting: "sync.groupPath",
      filter: "(objectClass=*)",
      // Samba returns no entry at all when only a ranged attribute is asked for.
      attributes: ["objectClass", `${attribute};range=${next}-*`],
    };
    let result;
    try {
      const client = await open();
      plan.onPage?.(0);
      result = await searchOnce(client, {
        base: entry.dn,
        scope: "base",
        filter: spec.filter,
        attributes: spec.attributes,
        timeLimit: plan.connection.timeLimit,
      });
    } catch (error) {
      throw searchError(error, spec, values.length, plan);
    }
    const fetched = result.entries[0];
    if (fetched === undefined) {
      throw new SourceIncompleteError(
        `LDAP ranged read of ${attribute} of group ${entry.dn} was incomplete: the group ` +
          `vanished after ${values.length} values`,
        { hint: "Run again", details: { group: entry.dn, valuesRead: values.length } },
      );
    }
    part = fetched;
    key = rangedKey(part, attribute);
  }
  attributes.set(want, values);
  return { dn: entry.dn, attributes };
}
