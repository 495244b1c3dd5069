/**
 * Paged reads as async generators, for the three paging styles directory APIs use:
 *
 * - {@link pagesByNextLink}: an absolute next link in the body (Microsoft Graph
 *   `@odata.nextLink`, OneLogin v1 `pagination.next_link`);
 * - {@link pagesByToken}: a token in the body or the headers, sent back with the next request
 *   (Google `nextPageToken`, OneLogin v2 `After-Cursor` header);
 * - {@link pagesByLinkHeader}: the `Link: <…>; rel="next"` header (RFC 8288; Okta), parsed by
 *   {@link parseLinkHeader}.
 *
 * Each yields one {@link Page} per answer. The read ends when the next link or token is absent
 * (`undefined`, `null` or `""`). Anything that cannot be told apart from a real end, or that
 * would loop, throws a {@link PagingError} instead of ending quietly, so the caller never takes
 * a short read for the whole directory:
 * - `malformed`: the next link or token is present but not a string (or not a URL);
 * - `repeated`: the same next link or token came back twice (the read would never end);
 * - `foreign-origin`: a next link points at another scheme, host or port than the first page
 *   (credentials are never sent elsewhere);
 * - `incomplete`: the caller's `checkEnd` said the last page is not the end (for example the
 *   API reports a total, or a full page came without a next link where the API always sends
 *   one).
 * `PagingError.pages` says how many pages were read before it: a provider maps a failure with
 * `pages > 0` to a partial read.
 * @module
 */

import type { JsonResponse } from "./client.ts";
import { HttpError } from "./errors.ts";

/** One page of a paged read. */
export interface Page {
  /** The answer (status, headers, parsed body). */
  response: JsonResponse;
  /** The parsed body (same as `response.body`). */
  body: unknown;
  /** 0 for the first page. */
  index: number;
  /** The next link or token, or null on the last page. */
  next: string | null;
}

/** Why a paged read could not be followed; see the module documentation. */
export type PagingProblem = "malformed" | "repeated" | "foreign-origin" | "incomplete";

/** A paged read that cannot be followed to its end. */
export class PagingError extends HttpError {
  /** What went wrong. */
  readonly problem: PagingProblem;
  /** Pages read before the problem (the failing one included). */
  readonly pages: number;
  constructor(
    request: { method: string; url: string },
    problem: PagingProblem,
    detail: { pages: number; message: string },
  ) {
    super(
      `Paged read of ${request.url} stopped after ${detail.pages} pages: ${detail.message}`,
      request,
    );
    this.problem = problem;
    this.pages = detail.pages;
  }
}

/** Gets one page; usually a throttled, retried `http.json` (see `./session.ts`). */
export type PageGetter = (url: string) => Promise<JsonResponse>;

/** Common options of the paging helpers. */
export interface PagingOptions {
  /**
   * Called with the last page (the one without a next link or token): return null when it is
   * the end, or a sentence saying why it cannot be (thrown as a {@link PagingError}
   * `incomplete`).
   */
  checkEnd?: (page: Page) => string | null;
  /** Stops the read between pages (the generator returns). */
  signal?: AbortSignal;
}

function readNext(value: unknown): string | null | "malformed" {
  if (value === undefined || value === null || value === "") return null;
  return typeof value === "string" ? value : "malformed";
}

/** `body.a.b.c` for a path `["a","b","c"]`, or undefined. */
export function valueAt(body: unknown, path: readonly string[]): unknown {
  let current: unknown = body;
  for (const key of path) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) {
      return undefined;
    }
    current = Reflect.get(current, key);
  }
  return current;
}

async function* follow(
  first: string,
  get: PageGetter,
  nextOf: (response: JsonResponse) => unknown,
  options: PagingOptions & { kind: "link" | "token"; urlFor: (next: string) => string },
): AsyncGenerator<Page> {
  const origin = new URL(first).origin;
  const seen = new Set<string>();
  let url = first;
  for (let index = 0;; index++) {
    if (options.signal?.aborted === true) return;
    const response = await get(url);
    const where = { method: "GET", url };
    const raw = nextOf(response);
    const next = readNext(raw);
    if (next === "malformed") {
      throw new PagingError(where, "malformed", {
        pages: index + 1,
        message: `the next ${options.kind} is ${JSON.stringify(raw)}, not a string`,
      });
    }
    const page: Page = { response, body: response.body, index, next };
    if (next === null) {
      const problem = options.checkEnd?.(page) ?? null;
      if (problem !== null) {
        throw new PagingError(where, "incomplete", { pages: index + 1, message: problem });
      }
      yield page;
      return;
    }
    if (seen.has(next)) {
      throw new PagingError(where, "repeated", {
        pages: index + 1,
        message: `the next ${options.kind} ${next} was already read`,
      });
    }
    seen.add(next);
    let nextUrl: string;
    try {
      nextUrl = options.urlFor(next);
    } catch {
      throw new PagingError(where, "malformed", {
        pages: index + 1,
        message: `the next link ${JSON.stringify(next)} is not a URL`,
      });
    }
    if (new URL(nextUrl).origin !== origin) {
      throw new PagingError(where, "foreign-origin", {
        pages: index + 1,
        message: `the next link ${nextUrl} points away from ${origin}`,
      });
    }
    yield page;
    url = nextUrl;
  }
}

/** Options of {@link pagesByNextLink}. */
export interface NextLinkOptions extends PagingOptions {
  /** Gets each page. */
  get: PageGetter;
  /**
   * Where the next link is in the body: a path such as `["@odata.nextLink"]` or
   * `["pagination", "next_link"]`, or a function of the body.
   */
  next: readonly string[] | ((body: unknown) => unknown);
}

/**
 * Reads pages that carry an absolute next link in the body (Graph, OneLogin v1). A relative
 * link is resolved against the page's URL.
 *
 * @throws {PagingError} see the module documentation; and whatever `get` throws.
 */
export function pagesByNextLink(first: string, options: NextLinkOptions): AsyncGenerator<Page> {
  const pick = options.next;
  let current = first;
  return follow(
    first,
    (url) => {
      current = url;
      return options.get(url);
    },
    (response) => typeof pick === "function" ? pick(response.body) : valueAt(response.body, pick),
    { ...options, kind: "link", urlFor: (next) => new URL(next, current).href },
  );
}

/** Options of {@link pagesByToken}. */
export interface TokenOptions extends PagingOptions {
  /** Gets each page. */
  get: PageGetter;
  /**
   * The token of the next page, read from the answer: e.g.
   * `(r) => valueAt(r.body, ["nextPageToken"])` (Google) or `(r) => r.headers.get("after-cursor")`
   * (OneLogin v2).
   */
  token: (response: JsonResponse) => unknown;
  /** The query parameter the token is sent back in, e.g. `pageToken` (Google), `cursor`. */
  param: string;
}

/**
 * Reads pages chained by a token: the token of each answer is set as the query parameter
 * `param` of the first URL (replacing any earlier value) to get the next page.
 *
 * @throws {PagingError} see the module documentation; and whatever `get` throws.
 */
export function pagesByToken(first: string, options: TokenOptions): AsyncGenerator<Page> {
  return follow(first, options.get, options.token, {
    ...options,
    kind: "token",
    urlFor: (token) => {
      const url = new URL(first);
      url.searchParams.set(options.param, token);
      return url.href;
    },
  });
}

/** Options of {@link pagesByLinkHeader}. */
export interface LinkHeaderOptions extends PagingOptions {
  /** Gets each page. */
  get: PageGetter;
}

/**
 * Reads pages chained by `Link: <…>; rel="next"` headers (Okta), following the next URL as
 * given (resolved against the page's URL when relative).
 *
 * @throws {PagingError} see the module documentation; and whatever `get` throws.
 */
export function pagesByLinkHeader(first: string, options: LinkHeaderOptions): AsyncGenerator<Page> {
  return follow(
    first,
    options.get,
    (response) => nextLink(response.headers, response.url),
    { ...options, kind: "link", urlFor: (next) => next },
  );
}

/** One link of a `Link` header. */
export interface LinkValue {
  /** The target as written between `<` and `>`, resolved against `base` when one is given. */
  url: string;
  /** The relation types (`rel="next prev"` gives both), lower-cased. */
  rel: string[];
  /** Every parameter, names lower-cased, quotes removed. */
  params: Record<string, string>;
}

/**
 * Parses a `Link` header (RFC 8288): comma-separated `<uri>; param=value; param="quoted"`
 * entries. Commas and semicolons inside `<…>` or quotes do not split; several `Link` header
 * lines joined with `, ` (as `Headers.get` joins them) parse as one list. Malformed entries are
 * skipped.
 *
 * @param base a URL to resolve relative targets against (optional)
 */
export function parseLinkHeader(value: string, base?: string): LinkValue[] {
  const links: LinkValue[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(value[i] ?? "")) i++;
  };
  while (i < n) {
    skipSpace();
    if (value[i] === ",") {
      i++;
      continue;
    }
    if (value[i] !== "<") {
      // Not a link: skip to the next comma outside quotes.
      let quoted = false;
      while (i < n && (quoted || value[i] !== ",")) {
        if (value[i] === '"') quoted = !quoted;
        else if (value[i] === "\\" && quoted) i++;
        i++;
      }
      continue;
    }
    const end = value.indexOf(">", i + 1);
    if (end < 0) break;
    const target = value.slice(i + 1, end).trim();
    i = end + 1;
    const params: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (value[i] !== ";") break;
      i++;
      skipSpace();
      const nameMatch = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\*?/.exec(value.slice(i));
      if (nameMatch === null) break;
      const name = nameMatch[0].toLowerCase();
      i += nameMatch[0].length;
      skipSpace();
      let paramValue = "";
      if (value[i] === "=") {
        i++;
        skipSpace();
        if (value[i] === '"') {
          i++;
          while (i < n && value[i] !== '"') {
            if (value[i] === "\\" && i + 1 < n) i++;
            paramValue += value[i];
            i++;
          }
          i++;
        } else {
          const token = /^[^;,\s]*/.exec(value.slice(i))?.[0] ?? "";
          paramValue = token;
          i += token.length;
        }
      }
      if (!(name in params)) params[name] = paramValue;
    }
    let url = target;
    if (base !== undefined) {
      try {
        url = new URL(target, base).href;
      } catch {
        continue;
      }
    }
    const rel = (params["rel"] ?? "").toLowerCase().split(/\s+/).filter((r) => r !== "");
    links.push({ url, rel, params });
  }
  return links;
}

/** The `rel="next"` target of a response's `Link` header(s), or null. */
export function nextLink(headers: Headers, base?: string): string | null {
  const value = headers.get("link");
  if (value === null) return null;
  return parseLinkHeader(value, base).find((link) => link.rel.includes("next"))?.url ?? null;
}
