/**
 * Runs the fake Google Directory API (`tests/fakes/google.ts`) in its own process, for the
 * benchmark (so roster's memory is measured alone): Google's default per-user quota (2,400
 * requests a minute), a concurrency cap of 20 requests and 50 ms latency, over
 * `generateGoogleDirectory` (10% of groups nested).
 *
 *     deno run -A scripts/fake_google.ts [--users 10000] [--groups 1000]
 *
 * It prints one JSON line on stdout: `url`, `tokenUrl`, `adminUser`, `keyFile` (the service
 * account's key file, as text). Then it answers each `counters` line on stdin with the fake's
 * counters as one JSON line, and stops on `quit` or the end of input.
 * @module
 */

import { generateGoogleDirectory, startFakeGoogle } from "../tests/fakes/google.ts";
import { numberOption, serveFake } from "./_bench_cloud.ts";

/** The fake's latency per request, in milliseconds. */
export const LATENCY_MS = 50;
/** The requests the fake serves at once. */
export const MAX_CONCURRENT = 20;
/** The fake's per-user quota: requests a minute. */
export const QUOTA_PER_MINUTE = 2400;

/** The directory the fake serves (deterministic), for the bench's lower bound. */
export function benchDirectory(users: number, groups: number) {
  return generateGoogleDirectory({ users, groups, nestedFraction: 0.1 });
}

if (import.meta.main) {
  const fake = await startFakeGoogle({
    directory: benchDirectory(
      numberOption(Deno.args, "--users", 10_000),
      numberOption(Deno.args, "--groups", 1_000),
    ),
    latencyMs: LATENCY_MS,
    maxConcurrent: MAX_CONCURRENT,
    userQuotaPerMinute: QUOTA_PER_MINUTE,
  });
  await serveFake({
    url: fake.url,
    tokenUrl: fake.tokenUrl,
    adminUser: fake.adminUser,
    keyFile: fake.serviceAccount.keyFile,
  }, {
    commands: { counters: () => fake.counters() },
    stop: () => fake.stop(),
  });
}
