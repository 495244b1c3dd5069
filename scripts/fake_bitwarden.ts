/**
 * Runs the fake Bitwarden server (`tests/fakes/bitwarden.ts`) by hand, e.g. to try roster
 * against it:
 *
 *     deno run -A scripts/fake_bitwarden.ts [--port 8087] [--vaultwarden] [--self-hosted]
 *         [--hosts] [--teams-starter] [--seats N] [--rate-limits] [--no-groups]
 *
 * It prints the server URL and the organization API key, then serves until Ctrl-C. Every request
 * is logged to stderr. Only 127.0.0.1 is listened on.
 * @module
 */

import { type FakeOptions, startFakeBitwarden } from "../tests/fakes/bitwarden.ts";

const args = [...Deno.args];
const flag = (name: string) => {
  const index = args.indexOf(name);
  if (index === -1) return false;
  args.splice(index, 1);
  return true;
};
const value = (name: string) => {
  const index = args.indexOf(name);
  if (index === -1) return undefined;
  const [, v] = args.splice(index, 2);
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
};

const port = value("--port");
const seats = value("--seats");
const options: FakeOptions = {
  mode: flag("--vaultwarden") ? "vaultwarden" : "bitwarden",
  selfHosted: flag("--self-hosted"),
  layout: flag("--hosts") ? "hosts" : "prefix",
  rateLimits: flag("--rate-limits"),
  org: {
    ...(flag("--teams-starter") ? { plan: "teams-starter" } : {}),
    ...(seats === undefined ? {} : { seats: Number(seats) }),
    ...(flag("--no-groups") ? { useGroups: false } : {}),
  },
  vaultwarden: { groupsEnabled: true },
  ...(port === undefined ? {} : { port: Number(port) }),
};
if (args.length > 0) {
  throw new Error(`Unknown arguments: ${args.join(" ")} (see the header of this script)`);
}

const fake = await startFakeBitwarden(options);
const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
out(`fake ${options.mode} server`);
if (fake.serverConfig.url !== undefined) out(`  server.url       ${fake.serverConfig.url}`);
else {
  out(`  server.api       ${fake.apiUrl}`);
  out(`  server.identity  ${fake.identityUrl}`);
}
out(`  client id        ${fake.credentials.clientId}`);
out(`  client secret    ${fake.credentials.clientSecret}`);
out("Ctrl-C to stop.");

let logged = 0;
const timer = setInterval(() => {
  const requests = fake.requests();
  for (const r of requests.slice(logged)) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `${new Date(r.at).toISOString()} ${r.method} ${r.path} ${r.status}\n`,
      ),
    );
  }
  logged = requests.length;
}, 250);

await new Promise<void>((resolve) => Deno.addSignalListener("SIGINT", () => resolve()));
clearInterval(timer);
await fake.close();
out(JSON.stringify(fake.state(), null, 2));
