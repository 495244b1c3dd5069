import assert from "node:assert/strict";
import type { JsonResponse } from "../../src/http/client.ts";
import {
  nextLink,
  type Page,
  pagesByLinkHeader,
  pagesByNextLink,
  pagesByToken,
  PagingError,
  parseLinkHeader,
  valueAt,
} from "../../src/http/paging.ts";

Deno.test("parseLinkHeader() reads Okta's self and next links", () => {
  const value = '<https://acme.okta.com/api/v1/users?limit=200>; rel="self", ' +
    '<https://acme.okta.com/api/v1/users?after=00ubfjQEMYBLRUWIEDKK&limit=200>; rel="next"';
  assert.deepEqual(parseLinkHeader(value), [
    { url: "https://acme.okta.com/api/v1/users?limit=200", rel: ["self"], params: { rel: "self" } },
    {
      url: "https://acme.okta.com/api/v1/users?after=00ubfjQEMYBLRUWIEDKK&limit=200",
      rel: ["next"],
      params: { rel: "next" },
    },
  ]);
});

Deno.test("parseLinkHeader() keeps commas and semicolons inside <…> and quotes", () => {
  const value = '<https://x.test/a?q=1,2;3>; title="a, b; c"; rel="prev next", ' +
    "</relative?page=3>;rel=last;type=application/json";
  assert.deepEqual(parseLinkHeader(value, "https://x.test/list"), [
    {
      url: "https://x.test/a?q=1,2;3",
      rel: ["prev", "next"],
      params: { title: "a, b; c", rel: "prev next" },
    },
    {
      url: "https://x.test/relative?page=3",
      rel: ["last"],
      params: { rel: "last", type: "application/json" },
    },
  ]);
});

Deno.test("parseLinkHeader() skips malformed entries and handles escapes and case", () => {
  const value = 'garbage, <https://x.test/1>; REL="Next"; title="say \\"hi\\"", <broken';
  assert.deepEqual(parseLinkHeader(value), [
    { url: "https://x.test/1", rel: ["next"], params: { rel: "Next", title: 'say "hi"' } },
  ]);
  assert.deepEqual(parseLinkHeader(""), []);
});

Deno.test("nextLink() finds rel=next among several Link header lines", () => {
  const headers = new Headers();
  headers.append("Link", '<https://acme.okta.com/api/v1/users?limit=2>; rel="self"');
  headers.append("Link", '<https://acme.okta.com/api/v1/users?after=b&limit=2>; rel="next"');
  assert.equal(nextLink(headers), "https://acme.okta.com/api/v1/users?after=b&limit=2");
  assert.equal(nextLink(new Headers({ Link: '<https://x.test/>; rel="self"' })), null);
  assert.equal(nextLink(new Headers()), null);
});

function response(url: string, body: unknown, headers: Record<string, string> = {}): JsonResponse {
  return { status: 200, headers: new Headers(headers), url, bodyText: JSON.stringify(body), body };
}

async function collect(pages: AsyncGenerator<Page>): Promise<Page[]> {
  const out: Page[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

Deno.test("pagesByNextLink() follows @odata.nextLink until it is absent", async () => {
  const base = "https://graph.test/v1.0/users";
  const bodies: Record<string, unknown> = {
    [`${base}?$top=2`]: { value: [1, 2], "@odata.nextLink": `${base}?$skiptoken=a` },
    [`${base}?$skiptoken=a`]: { value: [3, 4], "@odata.nextLink": `${base}?$skiptoken=b` },
    [`${base}?$skiptoken=b`]: { value: [5] },
  };
  const requested: string[] = [];
  const pages = await collect(pagesByNextLink(`${base}?$top=2`, {
    get: (url) => {
      requested.push(url);
      return Promise.resolve(response(url, bodies[url]));
    },
    next: ["@odata.nextLink"],
  }));
  assert.deepEqual(pages.map((p) => valueAt(p.body, ["value"])), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(pages.map((p) => [p.index, p.next]), [
    [0, `${base}?$skiptoken=a`],
    [1, `${base}?$skiptoken=b`],
    [2, null],
  ]);
  assert.deepEqual(requested, Object.keys(bodies));
});

Deno.test("pagesByNextLink() reads OneLogin v1's pagination.next_link", async () => {
  const first = "https://acme.onelogin.test/api/1/groups";
  const second = `${first}?after_cursor=xyz`;
  const pages = await collect(pagesByNextLink(first, {
    get: (url) =>
      Promise.resolve(
        response(url, {
          data: [url],
          pagination: { next_link: url === first ? second : null },
        }),
      ),
    next: ["pagination", "next_link"],
  }));
  assert.deepEqual(pages.map((p) => valueAt(p.body, ["data"])), [[first], [second]]);
});

Deno.test("pagesByToken() sends the body's nextPageToken back as pageToken", async () => {
  const first = "https://admin.test/admin/directory/v1/users?customer=my_customer&maxResults=2";
  const requested: string[] = [];
  const pages = await collect(pagesByToken(first, {
    get: (url) => {
      requested.push(url);
      const token = new URL(url).searchParams.get("pageToken");
      const next = token === null ? "t1" : token === "t1" ? "t2" : undefined;
      return Promise.resolve(response(url, { users: [token], nextPageToken: next }));
    },
    token: (r) => valueAt(r.body, ["nextPageToken"]),
    param: "pageToken",
  }));
  assert.equal(pages.length, 3);
  assert.deepEqual(requested, [first, `${first}&pageToken=t1`, `${first}&pageToken=t2`]);
});

Deno.test("pagesByToken() reads OneLogin v2's After-Cursor header", async () => {
  const first = "https://acme.onelogin.test/api/2/users?limit=1";
  const pages = await collect(pagesByToken(first, {
    get: (url) => {
      const cursor = new URL(url).searchParams.get("cursor");
      return Promise.resolve(
        response(url, [{ id: cursor }], cursor === null ? { "After-Cursor": "c2" } : {}),
      );
    },
    token: (r) => r.headers.get("after-cursor"),
    param: "cursor",
  }));
  assert.deepEqual(pages.map((p) => p.body), [[{ id: null }], [{ id: "c2" }]]);
});

Deno.test("pagesByLinkHeader() follows Okta's rel=next links verbatim", async () => {
  const first = "https://acme.okta.test/api/v1/users?limit=2";
  const second = "https://acme.okta.test/api/v1/users?after=00u2&limit=2";
  const pages = await collect(pagesByLinkHeader(first, {
    get: (url) =>
      Promise.resolve(
        response(url, [url], {
          Link: url === first
            ? `<${first}>; rel="self", <${second}>; rel="next"`
            : `<${second}>; rel="self"`,
        }),
      ),
  }));
  assert.deepEqual(pages.map((p) => p.body), [[first], [second]]);
});

async function failure(pages: AsyncGenerator<Page>): Promise<PagingError> {
  const error = await collect(pages).then(() => null, (e) => e);
  assert.ok(error instanceof PagingError, String(error));
  return error;
}

Deno.test("a paged read that would loop, leave its host, or has a malformed link throws PagingError", async () => {
  const first = "https://graph.test/v1.0/groups";
  const repeated = await failure(pagesByNextLink(first, {
    get: (url) => Promise.resolve(response(url, { "@odata.nextLink": `${first}?skip=1` })),
    next: ["@odata.nextLink"],
  }));
  assert.equal(repeated.problem, "repeated");
  assert.equal(repeated.pages, 2);

  const foreign = await failure(pagesByNextLink(first, {
    get: (url) => Promise.resolve(response(url, { "@odata.nextLink": "https://evil.test/steal" })),
    next: ["@odata.nextLink"],
  }));
  assert.equal(foreign.problem, "foreign-origin");
  assert.equal(foreign.pages, 1);
  assert.equal(
    foreign.message,
    "Paged read of https://graph.test/v1.0/groups stopped after 1 pages: the next link https://evil.test/steal points away from https://graph.test",
  );

  const malformed = await failure(pagesByToken(first, {
    get: (url) => Promise.resolve(response(url, { nextPageToken: 42 })),
    token: (r) => valueAt(r.body, ["nextPageToken"]),
    param: "pageToken",
  }));
  assert.equal(malformed.problem, "malformed");
  assert.equal(malformed.message.endsWith("the next token is 42, not a string"), true);
});

Deno.test("checkEnd turns a last page that cannot be the end into PagingError incomplete", async () => {
  const first = "https://acme.onelogin.test/api/2/users?limit=2";
  const error = await failure(pagesByToken(first, {
    // A full page without a cursor while the total says more: not the end.
    get: (url) => Promise.resolve(response(url, [1, 2], { "Total-Count": "5" })),
    token: (r) => r.headers.get("after-cursor"),
    param: "cursor",
    checkEnd: (page) =>
      Array.isArray(page.body) &&
        Number(page.response.headers.get("total-count")) > page.body.length
        ? "the last page has no cursor but the total is 5"
        : null,
  }));
  assert.equal(error.problem, "incomplete");
  assert.equal(error.pages, 1);
});
