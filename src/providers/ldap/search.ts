/**
 * The paged search loop of the `ldap` provider. Paging is roster's own loop over the server's
 * RFC 2696 cookie, not ldapts' `searchPaginated`, which ends the search at a page that comes
 * back empty even when the server sent a cookie to continue (AD does). Any size, time or admin
 * limit, failed page or lost connection throws `SourceIncompleteError` (see `errors.ts`).
 * @module
 */

import { SourceIncompleteError } from "../../errors.ts";
import { searchError } from "./errors.ts";
import { type Client, type RawEntry, searchOnce } from "./ldapts.ts";
import type { ReadPlan, SearchSpec } from "./settings.ts";

/**
 * How many pages in a row may come back empty with a continuation cookie (AD does this when a
 * page's time budget runs out before a match) before the search is given up as incomplete.
 */
export const MAX_EMPTY_PAGES = 10_000;

/**
 * The naming contexts Active Directory refers a domain-root subtree search to, which hold DNS
 * records and the forest's configuration, never users or groups: a continuation reference to
 * one of them loses nothing. Any other reference is a part of the searched subtree held by
 * another server (RFC 4511 §4.5.3), so the read is incomplete.
 */
const AD_SERVICE_PARTITIONS = /^(?:dc=domaindnszones|dc=forestdnszones|cn=configuration),/i;

/** The DN a continuation reference URI (`ldap://host/DN??sub`) points at, decoded. */
export function referenceDn(uri: string): string {
  const path = /^ldaps?:\/\/[^/]*\/([^?]*)/i.exec(uri)?.[1] ?? "";
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Checks the continuation references of one answer: those to AD's service partitions go to
 * `referrals` (for a notice); any other throws `SourceIncompleteError` naming it.
 */
function checkReferences(
  references: string[],
  spec: SearchSpec,
  options: { read: number; referrals: string[] },
): void {
  for (const uri of references) {
    if (AD_SERVICE_PARTITIONS.test(referenceDn(uri))) {
      options.referrals.push(uri);
      continue;
    }
    const held = referenceDn(uri) || uri;
    throw new SourceIncompleteError(
      `LDAP ${spec.what} search under ${spec.base} was incomplete: the server holds only part ` +
        `of the subtree and referred roster to another server for ${held} (${uri}) after ` +
        `${options.read} entries`,
      {
        hint: `roster does not follow referrals. Point directory.ldap.hostname at the server ` +
          `holding the whole subtree (for AD, a global catalog on port 3268 sees every ` +
          `domain), or narrow ${spec.baseSetting} so the search stays on this server`,
        details: { search: spec.what, base: spec.base, reference: uri, entriesRead: options.read },
      },
    );
  }
}

/**
 * Runs one search and yields its entries page by page. Paged searches (RFC 2696) send one
 * request per page and follow the server's cookie until it is empty, also through pages that
 * come back empty, asking for the next page as soon as one has arrived (before it is yielded,
 * so the server works on it while the consumer maps this one; RFC 2696 allows no more, as each
 * request carries the cookie of the last answer); unpaged ones come back whole and are split
 * into pages of `pageSize`. Only non-empty pages are yielded. One search at a time per
 * connection. Throws
 * `SourceIncompleteError` for any failed or limited page, for a continuation reference to a
 * part of the subtree on another server (references to AD's DNS and configuration partitions
 * are appended to `referrals` instead), and for a paged search whose server stops sending the
 * paged-results control after the first page. A first page without that control is a server
 * that ignored the (non-critical) request and sent the whole result, which is complete: a
 * limit would have ended it with a result code.
 */
export async function* search(
  client: Client,
  spec: SearchSpec,
  options: { plan: ReadPlan; referrals: string[] },
): AsyncGenerator<RawEntry[]> {
  const { plan, referrals } = options;
  const request = {
    base: spec.base,
    filter: spec.filter,
    attributes: spec.attributes,
    timeLimit: plan.connection.timeLimit,
    showDeleted: spec.showDeleted === true,
    ...(spec.dns === undefined ? {} : { dns: spec.dns }),
  };
  let read = 0;
  let pages = 0;
  try {
    if (plan.paged) {
      const ask = (cookie: Uint8Array) => {
        const answer = searchOnce(client, { ...request, page: { size: plan.pageSize, cookie } });
        // Asked ahead of the consumer, which may stop before awaiting it: marked handled here,
        // the await below still sees its failure.
        answer.catch(() => {});
        return answer;
      };
      let pending = ask(new Uint8Array(0));
      let emptyInARow = 0;
      for (;;) {
        const answer = await pending;
        pages++;
        const next = answer.cookie;
        plan.onPage?.(answer.entries.length);
        checkReferences(answer.references, spec, { read, referrals });
        read += answer.entries.length;
        if (next === undefined && pages > 1) {
          throw new SourceIncompleteError(
            `LDAP ${spec.what} search under ${spec.base} was incomplete: the server stopped ` +
              `paging, page ${pages} came back without the paged-results control after ` +
              `${read} entries`,
            {
              hint: "Check the server's logs; or turn off directory.ldap.pagedSearch and raise " +
                `the server's size limit for ${plan.connection.username}`,
              details: { search: spec.what, base: spec.base, entriesRead: read, pages },
            },
          );
        }
        // No control on the first page: the server did not page and sent everything (a limit
        // would have ended it with a result code); an empty cookie: the end.
        if (next === undefined || next.length === 0) {
          if (answer.entries.length > 0) yield answer.entries;
          break;
        }
        if (answer.entries.length === 0 && answer.references.length === 0) {
          if (++emptyInARow >= MAX_EMPTY_PAGES) {
            throw new SourceIncompleteError(
              `LDAP ${spec.what} search under ${spec.base} was incomplete: the server sent ` +
                `${emptyInARow} empty pages in a row, each with a cookie to continue, after ` +
                `${read} entries`,
              {
                hint: "Check the server's logs; narrow the search with sync.userPath/groupPath " +
                  "and filters, or raise directory.ldap.pageSize",
                details: { search: spec.what, base: spec.base, entriesRead: read, pages },
              },
            );
          }
        } else {
          emptyInARow = 0;
        }
        // The next page is asked for before this one is handed on: the server reads it while
        // roster maps this one.
        pending = ask(next);
        if (answer.entries.length > 0) yield answer.entries;
      }
    } else {
      const answer = await searchOnce(client, request);
      plan.onPage?.(answer.entries.length);
      checkReferences(answer.references, spec, { read, referrals });
      const all = answer.entries;
      for (let i = 0; i < all.length; i += plan.pageSize) {
        const page = all.slice(i, i + plan.pageSize);
        read += page.length;
        yield page;
      }
    }
  } catch (error) {
    throw searchError(error, spec, read, plan);
  }
}

/** Merges async iterators, yielding whichever produces first; at most one pending item each. */
export async function* merge<T>(sources: AsyncIterator<T>[]): AsyncGenerator<T> {
  const pending = new Map<number, Promise<{ index: number; step: IteratorResult<T> }>>();
  const pull = (index: number) => {
    const source = sources[index];
    if (source === undefined) return;
    const promise = source.next().then((step) => ({ index, step }));
    // A source may fail while the consumer is busy with an earlier item: mark the rejection
    // handled now (the race below still sees it), or the runtime reports it as uncaught.
    promise.catch(() => {});
    pending.set(index, promise);
  };
  sources.forEach((_, index) => pull(index));
  try {
    while (pending.size > 0) {
      const { index, step } = await Promise.race(pending.values());
      pending.delete(index);
      if (step.done) continue;
      pull(index);
      yield step.value;
    }
  } finally {
    for (const promise of pending.values()) promise.catch(() => {});
  }
}
