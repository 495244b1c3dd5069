/**
 * Runs the fake Okta org (`tests/fakes/okta.ts`) in its own process, for the benchmark: prints
 * `{"orgUrl":…,"token":…}` as one JSON line on stdout, then answers each line read on stdin
 * (`counters`) with the fake's counters as one JSON line, and exits on `quit` or when stdin
 * closes.
 *
 * `deno run -A scripts/fake_okta.ts [--users 10000] [--groups 1000] [--latency 50]`
 * (per-minute limits: the fake's defaults, Okta's typical documented values).
 * @module
 */

import { generateOktaOrg, startFakeOkta } from "../tests/fakes/okta.ts";
import { numberOption, serveFake } from "./_bench_cloud.ts";

const option = (name: string, fallback: number) => numberOption(Deno.args, `--${name}`, fallback);

const okta = startFakeOkta({
  ...generateOktaOrg({ users: option("users", 10_000), groups: option("groups", 1000) }),
  latencyMs: option("latency", 50),
});
await serveFake({ orgUrl: okta.orgUrl, token: okta.token }, {
  commands: { counters: () => okta.counters() },
  stop: () => okta.close(),
});
