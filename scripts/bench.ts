/**
 * `deno task bench [startup] [file] [ldap] [sync] [--users N,N]`: wall time, CPU time and peak
 * memory benchmarks.
 *
 * - `file`: `roster test --output json` on generated LDIF exports of 10,000 and 100,000 users
 *   (one group per 20 users, 5% of groups nested), read by the `file` provider, beside two
 *   line counts of the same file: `wc -l`, and a Deno program that streams the file and counts
 *   newlines (the floor for any Deno reader: start-up plus reading the bytes); alternating,
 *   median of 3.
 * - `startup`: `roster --version` from the bundle (`deno bundle`, run outside the repository)
 *   beside `deno eval 0`; alternating, median of 15.
 * - `ldap`: `scripts/bench_ldap.ts` (slapd with 100,000 users and 5,000 groups, against the
 *   `ldapsearch` floor).
 * - `sync`: `scripts/bench_sync.ts` (plan and sync of 10,000 users and 500 groups against the
 *   fake Bitwarden server with its cloud rate limits on).
 *
 * - `entra`, `google`, `okta`, `onelogin`: `scripts/bench_<type>.ts` (`roster test` against the
 *   source's fake with 50 ms latency and its documented limits, 10,000 users and 1,000 groups,
 *   beside the lower bound the limits allow).
 *
 * With no case named, all run. Each prints a JSON summary line; figures are reported, not
 * asserted.
 * @module
 */

import { writeLdif } from "./gen_ldif.ts";
import { measure, type Measurement } from "./_measure.ts";

const root = new URL("..", import.meta.url).pathname;
const encoder = new TextEncoder();

function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

async function writeDirectory(path: string, users: number): Promise<number> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const { bytes } = await writeLdif(file, {
      users,
      groups: Math.max(10, Math.round(users / 20)),
      nestedPct: 5,
      seed: 42,
      flavor: "openldap",
      memberAttr: "member",
      withBase: true,
    });
    return bytes;
  } finally {
    file.close();
  }
}

async function fileCase(users: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "roster-bench-file-" });
  try {
    const ldif = `${dir}/directory.ldif`;
    const bytes = await writeDirectory(ldif, users);
    const dataDir = `${dir}/data`;
    await Deno.mkdir(dataDir, { mode: 0o700 });
    const config = {
      directory: {
        type: "file",
        file: { path: ldif, format: "ldif", rootPath: "dc=example,dc=com" },
      },
      sync: { users: true, groups: true, userObjectClass: "inetOrgPerson" },
    };
    await Deno.writeTextFile(`${dataDir}/config.json`, JSON.stringify(config), { mode: 0o600 });
    const runs: Measurement[] = [];
    const counts: Measurement[] = [];
    const denoCounts: Measurement[] = [];
    for (let run = 0; run < RUNS; run++) {
      counts.push(await measure(["wc", "-l", ldif]));
      denoCounts.push(await measure([Deno.execPath(), "eval", LINE_COUNT, ldif]));
      runs.push(
        await measure(
          [
            Deno.execPath(),
            "run",
            "-A",
            `${root}main.ts`,
            "--data-dir",
            dataDir,
            "-q",
            "test",
            "--output",
            "json",
          ],
          { cwd: root },
        ),
      );
    }
    const result = median(runs, (r) => r.wallMs);
    const lineCount = median(counts, (r) => r.wallMs);
    const denoLineCount = median(denoCounts, (r) => r.wallMs);
    say(JSON.stringify({
      case: "file",
      users,
      groups: Math.max(10, Math.round(users / 20)),
      nestedPct: 5,
      ldifMiB: +(bytes / 1048576).toFixed(1),
      runs: RUNS,
      wallSeconds: +(result.wallMs / 1000).toFixed(2),
      cpuSeconds: +(median(runs, (r) => r.cpuMs).cpuMs / 1000).toFixed(2),
      peakRssMiB: Math.round(median(runs, (r) => r.peakRssMiB).peakRssMiB),
      wcSeconds: +(lineCount.wallMs / 1000).toFixed(3),
      timesWc: +(result.wallMs / lineCount.wallMs).toFixed(1),
      denoLineCountSeconds: +(denoLineCount.wallMs / 1000).toFixed(3),
      timesDenoLineCount: +(result.wallMs / denoLineCount.wallMs).toFixed(1),
      outputMiB: +(result.stdoutBytes / 1048576).toFixed(1),
      exitCode: result.code,
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A line count in Deno: stream the file named by the first argument, count `\n` bytes. */
const LINE_COUNT = "let n = 0; for await (const c of (await Deno.open(Deno.args[0])).readable) " +
  "{ let at = c.indexOf(10); while (at >= 0) { n++; at = c.indexOf(10, at + 1); } } " +
  "console.log(n);";

/** Runs of each command in the file case (alternating with the line counts). */
const RUNS = 3;
/** Runs of each command in the start-up case (alternating with `deno eval 0`). */
const STARTUP_RUNS = 15;

function median<T>(items: readonly T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  const middle = sorted[Math.floor(sorted.length / 2)];
  if (middle === undefined) throw new RangeError("Cannot take the median of no runs");
  return middle;
}

async function startupCase(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "roster-bench-startup-" });
  try {
    const bundle = `${dir}/roster.js`;
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "-o", bundle, "main.ts"],
      cwd: root,
    }).output();
    if (!built.success) throw new Error(new TextDecoder().decode(built.stderr));
    const deno = Deno.execPath();
    const roster = [deno, "run", "-A", "--unstable-kv", bundle, "--version"];
    const floor = [deno, "eval", "0"];
    await measure(roster, { cwd: dir }); // fills the code cache, as any second run finds it
    const rosterRuns: Measurement[] = [];
    const floorRuns: Measurement[] = [];
    for (let run = 0; run < STARTUP_RUNS; run++) {
      floorRuns.push(await measure(floor, { cwd: dir }));
      rosterRuns.push(await measure(roster, { cwd: dir }));
    }
    const r = median(rosterRuns, (m) => m.wallMs);
    const f = median(floorRuns, (m) => m.wallMs);
    const rCpu = median(rosterRuns, (m) => m.cpuMs).cpuMs;
    const fCpu = median(floorRuns, (m) => m.cpuMs).cpuMs;
    say(JSON.stringify({
      case: "startup",
      runs: STARTUP_RUNS,
      rosterVersion: {
        wallMs: Math.round(r.wallMs),
        cpuMs: rCpu,
        peakRssMiB: Math.round(median(rosterRuns, (m) => m.peakRssMiB).peakRssMiB),
      },
      denoEval0: {
        wallMs: Math.round(f.wallMs),
        cpuMs: fCpu,
        peakRssMiB: Math.round(median(floorRuns, (m) => m.peakRssMiB).peakRssMiB),
      },
      timesDenoEval: +(r.wallMs / f.wallMs).toFixed(1),
      cpuTimesDenoEval: fCpu === 0 ? null : +(rCpu / fCpu).toFixed(1),
      exitCode: r.code,
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function script(name: string, args: string[] = []): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}scripts/${name}`, ...args],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) say(JSON.stringify({ case: name, error: `exit ${code}` }));
}

const cases = Deno.args.filter((arg) => !arg.startsWith("--"));
const all = cases.length === 0;
if (all || cases.includes("startup")) await startupCase();
if (all || cases.includes("file")) {
  for (const users of [10_000, 100_000]) await fileCase(users);
}
if (all || cases.includes("ldap")) await script("bench_ldap.ts");
if (all || cases.includes("sync")) await script("bench_sync.ts");
for (const cloud of ["entra", "google", "okta", "onelogin"]) {
  if (all || cases.includes(cloud)) await script(`bench_${cloud}.ts`);
}
