import assert from "node:assert/strict";
import { createHttpClient } from "../../src/http/client.ts";
import {
  HttpBodyError,
  HttpCaFileError,
  HttpNetworkError,
  HttpStatusError,
} from "../../src/http/errors.ts";
import { pagesByLinkHeader } from "../../src/http/paging.ts";
import { RetryExhaustedError } from "../../src/http/retry.ts";
import { createApiSession } from "../../src/http/session.ts";
import { virtualClock } from "../fakes/_clock.ts";

/** What the server saw of a request. */
interface Seen {
  method: string;
  url: string;
  headers: Headers;
}

/** A local server; `handler` answers every request. */
function serve(
  handler: (request: Request) => Response | Promise<Response>,
): { url: string; seen: Seen[]; [Symbol.asyncDispose](): Promise<void> } {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen.push({ method: request.method, url: request.url, headers: new Headers(request.headers) });
    return handler(request);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("json() parses a 2xx body and sends the user agent and Accept", async () => {
  await using server = serve(() => Response.json({ value: [1, 2] }));
  const http = createHttpClient({ userAgent: "roster-test/1" });
  const answer = await http.json({ url: `${server.url}/v1.0/users` });
  http.close();
  assert.deepEqual(answer.body, { value: [1, 2] });
  assert.equal(answer.status, 200);
  assert.equal(server.seen[0]?.headers.get("user-agent"), "roster-test/1");
  assert.equal(server.seen[0]?.headers.get("accept"), "application/json");
  assert.deepEqual(http.stats(), { requests: 1, rateLimited: 0, networkErrors: 0 });
});

Deno.test("a gzip body is asked for and decoded", async () => {
  const text = JSON.stringify({ users: Array.from({ length: 500 }, (_, i) => `user${i}@x.test`) });
  await using server = serve(async () => {
    const gzipped = await new Response(
      new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    return new Response(gzipped, {
      headers: { "content-encoding": "gzip", "content-type": "application/json" },
    });
  });
  const http = createHttpClient();
  const answer = await http.json({ url: server.url });
  http.close();
  assert.match(server.seen[0]?.headers.get("accept-encoding") ?? "", /gzip/);
  assert.equal(answer.bodyText, text);
});

Deno.test("a non-2xx answer is HttpStatusError with the provider's raw and parsed body", async () => {
  const body = {
    errorCode: "E0000006",
    errorSummary: "You do not have permission to perform the requested action",
  };
  await using server = serve(() =>
    Response.json(body, { status: 403, headers: { "X-Okta-Request-Id": "r1" } })
  );
  const http = createHttpClient();
  const error = await http.json({ url: `${server.url}/api/v1/groups?limit=200` }).then(
    () => null,
    (e) => e,
  );
  http.close();
  assert.ok(error instanceof HttpStatusError);
  assert.equal(error.status, 403);
  assert.deepEqual(error.body, body);
  assert.equal(error.bodyText, JSON.stringify(body));
  assert.equal(error.headers.get("x-okta-request-id"), "r1");
  assert.equal(error.endpoint, "GET /api/v1/groups");
});

Deno.test("a redirect is not followed: request() returns it, json() names its target", async () => {
  await using server = serve(() =>
    new Response(null, { status: 302, headers: { location: "/moved/here" } })
  );
  const http = createHttpClient();
  const raw = await http.request({ method: "POST", url: `${server.url}/import`, body: "{}" });
  assert.equal(raw.status, 302);
  const error = await http.json({ url: `${server.url}/list` }).then(() => null, (e) => e);
  http.close();
  assert.ok(error instanceof HttpStatusError);
  assert.equal(error.location, `${server.url}/moved/here`);
  assert.equal(server.seen.length, 2);
});

Deno.test("a 2xx body that is not JSON is HttpBodyError invalid-json with an excerpt", async () => {
  await using server = serve(() => new Response("<html><title>Login</title></html>"));
  const http = createHttpClient();
  const error = await http.json({ url: server.url }).then(() => null, (e) => e);
  http.close();
  assert.ok(error instanceof HttpBodyError);
  assert.equal(error.problem, "invalid-json");
  assert.equal(error.excerpt, "<html><title>Login</title></html>");
});

Deno.test("a body cut short by the server is HttpBodyError truncated", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(4096));
      await conn.write(
        new TextEncoder().encode(
          'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"value":[',
        ),
      );
      conn.close();
    }
  })();
  const http = createHttpClient();
  const error = await http.json({ url: `http://127.0.0.1:${listener.addr.port}/users` }).then(
    () => null,
    (e) => e,
  );
  http.close();
  listener.close();
  await serving.catch(() => {});
  assert.ok(error instanceof HttpBodyError);
  assert.equal(error.problem, "truncated");
  assert.equal(error.status, 200);
});

Deno.test("a request without an answer in time is HttpNetworkError timeout", async () => {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  await using server = serve(async () => {
    await released;
    return new Response("late");
  });
  const http = createHttpClient({ timeoutMs: 50 });
  const error = await http.request({ url: server.url }).then(() => null, (e) => e);
  release();
  http.close();
  assert.ok(error instanceof HttpNetworkError);
  assert.equal(error.phase, "timeout");
  assert.equal(error.url, `${server.url}/`);
});

Deno.test("a refused connection is HttpNetworkError connect", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const http = createHttpClient();
  const error = await http.request({ url: `http://127.0.0.1:${port}/` }).then(() => null, (e) => e);
  http.close();
  assert.ok(error instanceof HttpNetworkError);
  assert.equal(error.phase, "connect");
  assert.deepEqual(http.stats(), { requests: 1, rateLimited: 0, networkErrors: 1 });
});

Deno.test("a missing or non-PEM CA file is HttpCaFileError naming the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roster-http-ca-" });
  try {
    const missing = `${dir}/missing.pem`;
    const http = createHttpClient({ caFile: missing });
    const error = await http.request({ url: "https://127.0.0.1:1/" }).then(() => null, (e) => e);
    assert.ok(error instanceof HttpCaFileError);
    assert.equal(error.problem, "unreadable");
    assert.equal(error.path, missing);
    assert.match(error.message, /^Cannot read the CA file ".*missing\.pem": /);
    const notPem = `${dir}/ca.txt`;
    await Deno.writeTextFile(notPem, "hello");
    const other = createHttpClient({ caFile: notPem });
    const invalid = await other.request({ url: "https://127.0.0.1:1/" }).then(() => null, (e) => e);
    assert.ok(invalid instanceof HttpCaFileError);
    assert.equal(invalid.message, `Invalid CA file "${notPem}": it holds no PEM certificate`);
    http.close();
    other.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 429 storm ends in success, with no more 429s than requests in flight", async () => {
  const clock = virtualClock();
  let closedUntil = 0;
  let throttled = 0;
  await using server = serve((request) => {
    const now = clock.now();
    const count = server.seen.length;
    // The tenant's limit: the 6th request opens a 2-second window where everything is refused.
    if (count === 6) closedUntil = now + 2_000;
    if (now < closedUntil) {
      throttled++;
      return Response.json({ error: { code: "TooManyRequests" } }, {
        status: 429,
        headers: { "Retry-After": "2" },
      });
    }
    return Response.json({ id: new URL(request.url).pathname });
  });
  const http = createHttpClient();
  const api = createApiSession(http, {
    concurrency: 4,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
  });
  const ids = Array.from({ length: 40 }, (_, i) => `/groups/${i}`);
  const answers = await Promise.all(ids.map((path) => api.get(`${server.url}${path}`)));
  http.close();
  assert.deepEqual(answers.map((a) => a.body), ids.map((id) => ({ id })));
  assert.ok(throttled >= 1 && throttled <= 4, `${throttled} 429s`);
  assert.equal(server.seen.length, 40 + throttled);
  assert.equal(api.stats().throttled, throttled);
  assert.equal(api.stats().requests, 40 + throttled);
});

Deno.test("a server that keeps throttling ends in RetryExhaustedError after a bounded number of requests", async () => {
  const clock = virtualClock();
  await using server = serve(() =>
    Response.json({ errorCode: "E0000047" }, { status: 429, headers: { "Retry-After": "1" } })
  );
  const http = createHttpClient();
  const api = createApiSession(http, {
    retry: { maxAttempts: 3 },
    now: clock.now,
    sleep: clock.sleep,
  });
  const error = await api.get(`${server.url}/api/v1/users`).then(() => null, (e) => e);
  http.close();
  assert.ok(error instanceof RetryExhaustedError);
  assert.equal(error.attempts, 3);
  assert.ok(error.lastError instanceof HttpStatusError);
  assert.equal(error.lastError.status, 429);
  assert.equal(server.seen.length, 3);
});

Deno.test("an Okta-style paged read paces itself by the rate-limit headers and never gets a 429", async () => {
  const clock = virtualClock(Date.UTC(2026, 0, 1));
  const limit = 6;
  let windowEnd = clock.now() + 60_000;
  let used = 0;
  let refused = 0;
  const total = 20;
  await using server = serve((request) => {
    const now = clock.now();
    if (now >= windowEnd) {
      windowEnd = now + 60_000;
      used = 0;
    }
    used++;
    const headers: Record<string, string> = {
      "X-Rate-Limit-Limit": String(limit),
      "X-Rate-Limit-Remaining": String(Math.max(0, limit - used)),
      "X-Rate-Limit-Reset": String(Math.ceil(windowEnd / 1000)),
    };
    if (used > limit) {
      refused++;
      return Response.json({ errorCode: "E0000047" }, { status: 429, headers });
    }
    const url = new URL(request.url);
    const after = Number(url.searchParams.get("after") ?? "0");
    if (after + 1 < total) {
      headers["Link"] = `<${url.origin}${url.pathname}?after=${after + 1}>; rel="next"`;
    }
    return Response.json([after], { headers });
  });
  const http = createHttpClient();
  const api = createApiSession(http, {
    rateLimitShare: 50,
    now: clock.now,
    sleep: clock.sleep,
  });
  const read: unknown[] = [];
  for await (const page of pagesByLinkHeader(`${server.url}/api/v1/users`, { get: api.get })) {
    read.push(...(Array.isArray(page.body) ? page.body : []));
  }
  http.close();
  assert.deepEqual(read, Array.from({ length: total }, (_, i) => i));
  assert.equal(refused, 0);
  // 50% of 6 is 3 requests per 60 s window: 20 pages need 6 waits for the next window.
  assert.equal(api.stats().throttleWaits, 6);
});

Deno.test("requests reuse one kept-alive connection; freshConnection ones never do", async () => {
  const ports: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (_req, info) => {
    ports.push(info.remoteAddr.port);
    return Response.json("ok");
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const http = createHttpClient({ env: () => undefined });
  try {
    for (let i = 0; i < 3; i++) await http.json({ url });
    for (let i = 0; i < 2; i++) await http.json({ url, method: "POST", freshConnection: true });
  } finally {
    http.close();
    await server.shutdown();
  }
  assert.equal(new Set(ports.slice(0, 3)).size, 1);
  assert.equal(new Set(ports.slice(3)).size, 2);
  assert.equal(ports.slice(3).includes(ports[0] ?? 0), false);
});
