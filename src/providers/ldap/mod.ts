/**
 * The `ldap` provider: OpenLDAP, Active Directory and any RFC 4511 server, read with ldapts.
 *
 * The user and group searches run at the same time on two connections, paged (RFC 2696,
 * `directory.ldap.pageSize`) unless `pagedSearch` is off; every page is mapped and yielded at
 * once. The folder, by job:
 *
 * | file             | job                                                                  |
 * | ---------------- | -------------------------------------------------------------------- |
 * | `mod.ts`         | the provider: one read from settings to the `done` page              |
 * | `settings.ts`    | the settings slice, their checks, TLS files, the read plan           |
 * | `connection.ts`  | connect, StartTLS, bind; closing every connection of a read          |
 * | `search.ts`      | the paged search loop (roster's own, over the RFC 2696 cookie)       |
 * | `mapping.ts`     | user and group reads: LDAP pages to directory entries                |
 * | `ad.ts`          | Active Directory: ranged member retrieval, deleted-object tombstones |
 * | `incremental.ts` | the "did anything change" check, DN digests, settings fingerprint    |
 * | `errors.ts`      | ldapts and socket errors to roster errors with hints                 |
 * | `liveness.ts`    | a dead or silent server noticed within seconds on every transport    |
 * | `ldapts.ts`      | the only module importing ldapts: client, search call, paging        |
 * |                  | control and cookie, message framing, collecting entries              |
 * | `decode.ts`      | SearchResultEntry messages straight from the received bytes; DNs     |
 * |                  | interned by their bytes (`DnTable`)                                  |
 *
 * **Complete or nothing.** A read that ends short in any way the protocol allows is a
 * `SourceIncompleteError` (exit 5), never a smaller directory: any result code but success on
 * any page (size, time and administrative limits, referral, busy, unavailable, unwilling …), a
 * continuation reference to a part of the subtree on another server (only AD's DNS and
 * configuration partitions are passed over, with an info notice), a server that stops sending
 * the paged-results control after the first page, a gap in AD's ranged member values, a Notice
 * of Disconnection, and a connection that closes or goes silent (`liveness.ts`). Progress
 * (entries and search requests) goes to `context.progress` after every page.
 *
 * **Incremental reads** are all or nothing (see `incremental.ts`): nothing changed, the read
 * yields no users or groups and `done` says `incremental: true` (bwdc's `--last`: only changes,
 * and there are none); anything changed, or no usable state, it reads everything and `done`
 * says `incremental: false`. It never returns a delta to merge (`done.delta`).
 * @module
 */

import type {
  DirectoryPage,
  DirectoryProvider,
  ProviderContext,
  ReadOptions,
} from "../provider.ts";
import { Session } from "./connection.ts";
import {
  type ChangeCheck,
  checkChanges,
  DnDigest,
  LDAP_STATE_KEYS,
  settingsFingerprint,
} from "./incremental.ts";
import { groupPages, type StreamContext, userPages } from "./mapping.ts";
import { merge } from "./search.ts";
import { type LdapSettings, readPlan as planRead } from "./settings.ts";

export { LDAP_PASSWORD_KEY, type LdapSettings, validateLdapFilters } from "./settings.ts";
export { generalizedTime } from "./incremental.ts";

/** Creates the `ldap` provider. */
export function createLdapProvider(
  context: ProviderContext<LdapSettings>,
): DirectoryProvider {
  return {
    name: "ldap",
    read: (options) => readDirectory(context, options),
  };
}

async function* readDirectory(
  context: ProviderContext<LdapSettings>,
  options: ReadOptions,
): AsyncGenerator<DirectoryPage> {
  const readPlan = await planRead(context);
  yield* readPlan.notices;
  const counters = { objects: 0, requests: 0, throttleWaits: 0 };
  readPlan.onPage = (entries) => {
    counters.objects += entries;
    counters.requests++;
    context.progress?.({ ...counters });
  };
  const session = new Session(readPlan);
  const onAbort = () => void session.closeAll();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const rethrow = (error: unknown): never => {
    if (options.signal?.aborted) throw options.signal.reason;
    throw error;
  };
  try {
    options.signal?.throwIfAborted();
    const fingerprint = settingsFingerprint(readPlan);
    if (options.mode === "incremental") {
      let check: ChangeCheck;
      try {
        check = await checkChanges(session, readPlan, options);
      } catch (error) {
        return rethrow(error);
      }
      if (!check.changed) {
        yield {
          kind: "notice",
          code: "noChanges",
          level: "info",
          message: "LDAP: no users or groups changed since the last sync",
        };
        const state: Record<string, string> = { [LDAP_STATE_KEYS.settings]: fingerprint };
        for (const side of ["users", "groups"] as const) {
          const value = options.state?.[LDAP_STATE_KEYS[side]];
          if (options[side] && value !== undefined) state[LDAP_STATE_KEYS[side]] = value;
        }
        context.progress?.({ ...counters, done: true });
        yield { kind: "done", incremental: true, state };
        return;
      }
      yield {
        kind: "notice",
        code: "fullReadInstead",
        level: "info",
        message: `LDAP: reading the whole directory (${check.reason})`,
      };
    }
    const ctx: StreamContext = {
      session,
      plan: readPlan,
      referrals: [],
      full: true,
      usersDigest: new DnDigest(),
      groupsDigest: new DnDigest(),
    };
    const sources: AsyncIterator<DirectoryPage>[] = [];
    if (options.users) sources.push(userPages(ctx));
    if (options.groups) sources.push(groupPages(ctx));
    try {
      for await (const page of merge(sources)) yield page;
    } catch (error) {
      await session.closeAll();
      for (const source of sources) source.return?.().catch(() => {});
      return rethrow(error);
    }
    if (ctx.referrals.length > 0) {
      // Only references to AD's DNS and configuration partitions get here (see search.ts):
      // they hold no users or groups, so the read is complete.
      const unique = [...new Set(ctx.referrals)];
      yield {
        kind: "notice",
        code: "referralsNotFollowed",
        level: "info",
        message: `LDAP: ${unique.length} continuation reference(s) to Active Directory's DNS ` +
          "and configuration partitions not followed (they hold no users or groups): " +
          unique.slice(0, 5).join(", ") + (unique.length > 5 ? ", …" : ""),
      };
    }
    context.progress?.({ ...counters, done: true });
    const state: Record<string, string> = { [LDAP_STATE_KEYS.settings]: fingerprint };
    if (options.users) state[LDAP_STATE_KEYS.users] = ctx.usersDigest.toString();
    if (options.groups) state[LDAP_STATE_KEYS.groups] = ctx.groupsDigest.toString();
    yield { kind: "done", incremental: false, state };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await session.closeAll();
  }
}
