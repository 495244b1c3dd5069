/**
 * Runs the fake Okta org (`tests/fakes/okta.ts`) in its own process, for the benchmark: prints
 * `{"orgUrl":…,"token":…}` as one JSON line on stdout, then answers each line read on stdin
 * (`counters`) with the fake's counters as one JSON line, and exits when stdin closes.
 *
 * `deno run -A scripts/fake_okta.ts [--users 10000] [--groups 1000] [--latency 50]`
 * (per-minute limits: the fake's defaults, Okta's typical documented values).
 * @module
 */

import { generateOktaOrg, startFakeOkta } from "../tests/fakes/okta.ts";

function option(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  const value = at === -1 ? undefined : Number(Deno.args[at + 1]);
  return value === undefined || Number.isNaN(value) ? fallback : value;
}

const encoder = new TextEncoder();
const say = (value: unknown) => Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));

const okta = startFakeOkta({
  ...generateOktaOrg({ users: option("users", 10_000), groups: option("groups", 1000) }),
  latencyMs: option("latency", 50),
});
say({ orgUrl: okta.orgUrl, token: okta.token });
const decoder = new TextDecoder();
let buffer = "";
for await (const chunk of Deno.stdin.readable) {
  buffer += decoder.decode(chunk, { stream: true });
  let newline = buffer.indexOf("\n");
  while (newline !== -1) {
    const line = buffer.slice(0, newline).trim();
    buffer = buffer.slice(newline + 1);
    if (line === "counters") say(okta.counters());
    newline = buffer.indexOf("\n");
  }
}
await okta.close();
