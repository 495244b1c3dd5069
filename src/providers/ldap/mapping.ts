/**
 * The user and group reads of the `ldap` provider: each LDAP page is mapped to directory users,
 * groups and skipped entries (by the shared rules in `src/ldap/entry.ts`) and yielded at once,
 * so raw entries are never held for the whole directory. Only the attributes the mapping needs
 * are requested. Each DN also goes into the read's digest for the next incremental check.
 *
 * DNs already in canonical form (the usual case) are interned by the decoder as they arrive
 * (`plan.dns`, see `DnTable` in `decode.ts`): an entry's DN is its own reference, and a group
 * whose member values are all canonical DNs comes with them de-duplicated (`memberDns`), so the
 * mapping reads only its other attributes. Everything else (AD's `CN=…` DNs, `memberUid`
 * values, mixed-case DNs) is normalised and pooled by the shared mapping (`plan.pool`).
 * @module
 */

import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import {
  entryToGroup,
  entryToUser,
  groupSearchFilter,
  type LdapEntry,
  searchBase,
  userAttributes,
  userSearchFilter,
} from "../../ldap/entry.ts";
import { isNormalizedDn } from "../../ldap/dn.ts";
import type { DirectoryPage } from "../provider.ts";
import { completeRanges, deletedUserPages, rangedKey, requestedGroupAttributes } from "./ad.ts";
import type { Session } from "./connection.ts";
import type { DnDigest } from "./incremental.ts";
import { EntryAttributes } from "./decode.ts";
import type { Client } from "./ldapts.ts";
import { search } from "./search.ts";
import type { ReadPlan, SearchSpec } from "./settings.ts";

/** What the user and group reads of one read share. */
export interface StreamContext {
  session: Session;
  plan: ReadPlan;
  referrals: string[];
  full: boolean;
  usersDigest: DnDigest;
  groupsDigest: DnDigest;
}

/**
 * The entry's DN when it is canonical already (`isNormalizedDn`: the usual case, slapd and most
 * servers send DNs as stored), for the mapping's `ref`; else undefined, and the mapping
 * normalises it and pools it in `plan.pool` (and reports a DN that does not parse, in its own
 * order of checks). A canonical DN is not pooled again: the decoder took it from `plan.dns`
 * (see `DnTable` in `decode.ts`), which gives the same string to every member value naming
 * it, so the pool's `Map` insertion per entry is saved along with `normalizeDn`'s regular
 * expressions and lower-cased copy.
 */
function canonicalRef(entry: LdapEntry): string | undefined {
  return isNormalizedDn(entry.dn) ? entry.dn : undefined;
}

/** Reads the users (and, in a full AD read, the tombstones of deleted users). */
export async function* userPages(ctx: StreamContext): AsyncGenerator<DirectoryPage> {
  const { plan, session } = ctx;
  const s = plan.settings;
  const client = await session.open();
  const spec: SearchSpec = {
    what: "users",
    base: searchBase(plan.rootPath, s.userPath),
    baseSetting: "sync.userPath",
    filter: userSearchFilter(s),
    attributes: userAttributes(s),
    dns: { table: plan.dns },
  };
  for await (const page of search(client, spec, { plan, referrals: ctx.referrals })) {
    const users: DirectoryUser[] = [];
    for (const raw of page) {
      const ref = canonicalRef(raw);
      const user = ref === undefined
        ? entryToUser(raw, s, { pool: plan.pool })
        : entryToUser(raw, s, { pool: plan.pool, ref });
      const key = user.refs?.[0];
      if (key === undefined) ctx.usersDigest.add(raw.dn);
      else ctx.usersDigest.addNormalized(key);
      users.push(user);
    }
    yield { kind: "users", users };
  }
  if (s.ad && ctx.full) yield* deletedUserPages(client, plan);
  await session.close(client);
}

/** Reads the groups, completing ranged member lists. */
export async function* groupPages(ctx: StreamContext): AsyncGenerator<DirectoryPage> {
  const { plan, session } = ctx;
  const s = plan.settings;
  const client = await session.open();
  let rangeClient: Client | undefined;
  const openRangeClient = async () => rangeClient ??= await session.open();
  const memberAttribute = s.memberAttribute.toLowerCase();
  const spec: SearchSpec = {
    what: "groups",
    base: searchBase(plan.rootPath, s.groupPath),
    baseSetting: "sync.groupPath",
    filter: groupSearchFilter(s),
    attributes: requestedGroupAttributes(s),
    // AD's member values come ranged and as sent (`CN=…`, not canonical): mapped one by one.
    dns: s.ad ? { table: plan.dns } : { table: plan.dns, attribute: memberAttribute },
  };
  try {
    for await (const page of search(client, spec, { plan, referrals: ctx.referrals })) {
      const groups: DirectoryGroup[] = [];
      const skipped: SkippedEntry[] = [];
      for (const raw of page) {
        let entry: LdapEntry = raw;
        if (s.ad || rangedKey(entry, s.memberAttribute) !== undefined) {
          entry = await completeRanges(entry, s.memberAttribute, plan, openRangeClient);
        }
        const ref = canonicalRef(entry);
        // Member values that were all canonical DNs come de-duplicated from the decoder
        // (`memberDns`): exactly the member references the mapping would compute from them,
        // so it maps the rest of the entry only.
        let memberDns = entry === raw ? raw.memberDns : undefined;
        if (memberDns !== undefined && raw.attributes instanceof EntryAttributes) {
          entry = { dn: raw.dn, attributes: raw.attributes.withEmpty(memberAttribute) };
        } else {
          memberDns = undefined;
        }
        const mapped = ref === undefined
          ? entryToGroup(entry, s, { pool: plan.pool })
          : entryToGroup(entry, s, { pool: plan.pool, ref });
        if (memberDns !== undefined && "memberRefs" in mapped) mapped.memberRefs = memberDns;
        const key = "memberRefs" in mapped ? mapped.refs?.[0] : undefined;
        if (key === undefined) ctx.groupsDigest.add(raw.dn);
        else ctx.groupsDigest.addNormalized(key);
        if ("memberRefs" in mapped) groups.push(mapped);
        else skipped.push(mapped);
      }
      yield { kind: "groups", groups };
      if (skipped.length > 0) yield { kind: "skipped", entries: skipped };
    }
  } finally {
    if (rangeClient !== undefined) await session.close(rangeClient);
  }
  await session.close(client);
}
