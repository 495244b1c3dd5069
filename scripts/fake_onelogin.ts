/**
 * Runs the fake OneLogin account (`tests/fakes/onelogin.ts`) in its own process, for the
 * benchmark (so roster's memory is measured alone), with OneLogin's documented budget of 5,000
 * calls an hour:
 *
 *     deno run -A scripts/fake_onelogin.ts [--users 10000] [--roles 1000] [--latency 50]
 *
 * The account is `generateOneLoginAccount` (seed 42). It prints one JSON line on stdout: `url`,
 * `clientId`, `secret`. Then it reads commands on stdin, one a line: `counters` prints the
 * fake's request counters as one JSON line, `refill` restores the whole hourly budget and prints
 * `{}`, `quit` (or the end of input) stops.
 * @module
 */

import { generateOneLoginAccount, startFakeOneLogin } from "../tests/fakes/onelogin.ts";
import { numberOption, serveFake } from "./_bench_cloud.ts";

/** The fake's budget: calls an hour. */
export const HOURLY_LIMIT = 5000;

/** The account the fake serves (deterministic), for the bench's lower bound. */
export function benchAccount(users: number, roles: number) {
  return generateOneLoginAccount({ users, roles, seed: 42 });
}

if (import.meta.main) {
  const fake = startFakeOneLogin({
    ...benchAccount(
      numberOption(Deno.args, "--users", 10_000),
      numberOption(Deno.args, "--roles", 1_000),
    ),
    latencyMs: numberOption(Deno.args, "--latency", 50),
    rateLimit: HOURLY_LIMIT,
  });
  await serveFake({ url: fake.apiUrl, clientId: fake.clientId, secret: fake.clientSecret }, {
    commands: {
      counters: () => fake.counters(),
      refill: () => {
        fake.setRemaining(HOURLY_LIMIT);
        return {};
      },
    },
    stop: () => fake.close(),
  });
}
