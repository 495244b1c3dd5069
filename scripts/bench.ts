/**
 * `deno task bench [case…] [--runs N] [--source DIR]`: the performance targets, measured on whole
 * `roster` processes run from the bundle (`deno bundle --platform deno`, built once per bench
 * run and run from a temporary directory outside the checkout, the way it ships), each beside
 * its floor, in alternating runs with stdout discarded (after one unmeasured run that warms the
 * caches and checks what roster prints); each case prints one JSON line with the medians, the
 * ratio to the floor, the target and whether it holds. Figures are reported, not asserted.
 *
 * Cases run by default (about 3 minutes on 2 cores):
 * - `startup`: `roster --version` beside `deno eval 0`; median of 15. Target: ≤ 4×.
 * - `file`: `roster test --output json` on a generated LDIF export of 100,000 users and 5,000
 *   groups (5% of groups nested) read by the `file` provider, beside a Deno program that streams
 *   the file and counts its lines (the floor of any Deno reader: start-up plus reading the
 *   bytes; `wc -l` is reported too). Target: ≤ 6× the Deno line count, peak RSS ≤ 150 MB.
 * - `ldap`: `roster test --output json` against slapd with 100,000 users and 5,000 groups (10%
 *   nested), beside `ldapsearch` paging the same users and groups with the same attributes,
 *   page size 1000 on both sides (`scripts/bench_ldap.ts`). Target: ≤ 2×, peak RSS ≤ 150 MB.
 * - `sync`: `scripts/bench_sync.ts` (plan and sync of 10,000 users and 500 groups against the
 *   fake Bitwarden server with its cloud rate limits on).
 *
 * Cases run only when named:
 * - `ldap1m`: the `ldap` case with 1,000,000 users and 50,000 groups. Target: ≤ 2×, peak RSS
 *   ≤ 1 GB. Takes about 10 minutes: 2 generating and loading (slapadd) a million entries,
 *   then 1–2 minutes a run.
 * - `entra`, `google`, `okta`, `onelogin`: `scripts/bench_<type>.ts` (`roster test` against
 *   the source's fake with 50 ms latency and its documented limits, 10,000 users and 1,000
 *   groups, beside the lower bound the limits allow).
 *
 * Options: `--runs N` runs of each side in the `file`, `ldap` and `ldap1m` cases (3; the
 * `startup` case always takes 15), `--source DIR` bundles the checkout in DIR instead of this
 * one for the `startup`, `file`, `ldap` and `ldap1m` cases (to measure another version with the
 * same bench, e.g. a `git archive` of an older commit). Peak RSS and CPU time come from GNU
 * time (`scripts/_measure.ts`); megabytes are 10^6 bytes, as in the targets.
 * @module
 */

import { join } from "node:path";
import { ldapCase } from "./bench_ldap.ts";
import { writeLdif } from "./gen_ldif.ts";
import {
  buildBundle,
  type Bundle,
  measure,
  type Measurement,
  printJson,
  REPO,
  summarize,
  verdict,
} from "./_measure.ts";

/** Runs of each side in the start-up case (alternating with `deno eval 0`). */
const STARTUP_RUNS = 15;

/** A line count in Deno: stream the file named by the first argument, count `\n` bytes. */
const LINE_COUNT = "let n = 0; for await (const c of (await Deno.open(Deno.args[0])).readable) " +
  "{ let at = c.indexOf(10); while (at >= 0) { n++; at = c.indexOf(10, at + 1); } } " +
  "console.log(n);";

async function startupCase(bundle: Bundle): Promise<Record<string, unknown>> {
  const roster = [...bundle.command, "--version"];
  const floor = [Deno.execPath(), "eval", "0"];
  // Fills the code cache, as any later run finds it, and checks what roster prints.
  const check = await measure(roster, { cwd: bundle.dir, countStdout: true });
  const rosterRuns: Measurement[] = [];
  const floorRuns: Measurement[] = [];
  for (let run = 0; run < STARTUP_RUNS; run++) {
    floorRuns.push(await measure(floor, { cwd: bundle.dir }));
    rosterRuns.push(await measure(roster, { cwd: bundle.dir }));
  }
  const r = summarize(rosterRuns);
  const f = summarize(floorRuns);
  return {
    case: "startup",
    runs: STARTUP_RUNS,
    roster: { command: "roster --version (bundle)", ...r },
    floor: { command: "deno eval 0", ...f },
    cpuRatio: f.cpuSeconds === 0 ? null : +(r.cpuSeconds / f.cpuSeconds).toFixed(2),
    check: { rosterExitCode: check.code, rosterStdoutBytes: check.stdoutBytes },
    ...verdict(r, { floorSeconds: f.wallSeconds, target: { ratio: 4 } }),
  };
}

async function fileCase(bundle: Bundle, runs: number): Promise<Record<string, unknown>> {
  const users = 100_000;
  const groups = 5_000;
  const nestedPct = 5;
  const dir = await Deno.makeTempDir({ prefix: "roster-bench-file-" });
  try {
    const ldif = join(dir, "directory.ldif");
    const file = await Deno.open(ldif, { write: true, create: true, truncate: true });
    let bytes: number;
    try {
      ({ bytes } = await writeLdif(file, {
        users,
        groups,
        nestedPct,
        seed: 42,
        flavor: "openldap",
        memberAttr: "member",
        withBase: true,
      }));
    } finally {
      file.close();
    }
    const dataDir = join(dir, "data");
    await Deno.mkdir(dataDir, { mode: 0o700 });
    const config = {
      directory: {
        type: "file",
        file: { path: ldif, format: "ldif", rootPath: "dc=example,dc=com" },
      },
      sync: { users: true, groups: true, userObjectClass: "inetOrgPerson" },
    };
    await Deno.writeTextFile(join(dataDir, "config.json"), JSON.stringify(config), {
      mode: 0o600,
    });
    const roster = [...bundle.command, "--data-dir", dataDir, "-q", "test", "--output", "json"];
    // Warms the page cache for every side and checks what roster prints.
    const check = await measure(roster, {
      cwd: bundle.dir,
      env: { NO_COLOR: "1" },
      countStdout: true,
    });
    const rosterRuns: Measurement[] = [];
    const floorRuns: Measurement[] = [];
    const wcRuns: Measurement[] = [];
    for (let run = 0; run < runs; run++) {
      wcRuns.push(await measure(["wc", "-l", ldif]));
      floorRuns.push(await measure([Deno.execPath(), "eval", LINE_COUNT, ldif]));
      rosterRuns.push(await measure(roster, { cwd: bundle.dir, env: { NO_COLOR: "1" } }));
    }
    const r = summarize(rosterRuns);
    const f = summarize(floorRuns);
    const wc = summarize(wcRuns);
    return {
      case: "file",
      users,
      groups,
      nestedPct,
      ldifMB: +(bytes / 1e6).toFixed(1),
      runs,
      roster: { command: "roster test --output json (bundle)", ...r },
      floor: { command: "deno eval <stream the file, count newlines>", ...f },
      wc: { wallSeconds: wc.wallSeconds, timesWc: +(r.wallSeconds / wc.wallSeconds).toFixed(1) },
      check: {
        rosterExitCode: check.code,
        rosterStdoutBytes: check.stdoutBytes,
        ...(check.code === 0 ? {} : { rosterStderr: check.stderrTail }),
      },
      ...verdict(r, { floorSeconds: f.wallSeconds, target: { ratio: 6, peakRssMB: 150 } }),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs another bench script (it prints its own JSON line). */
async function script(name: string): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO, "scripts", name)],
    cwd: REPO,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) printJson({ case: name, error: `exit ${code}` });
}

const DEFAULT_CASES = ["startup", "file", "ldap", "sync"];
const NAMED_CASES = ["ldap1m", "entra", "google", "okta", "onelogin"];

function parseArgs(args: readonly string[]): { cases: string[]; runs: number; source: string } {
  const cases: string[] = [];
  let runs = 3;
  let source = REPO;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--runs") {
      runs = Number(args[++i]);
      if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs needs a whole number ≥ 1");
    } else if (arg === "--source") {
      source = args[++i] ?? "";
      if (source === "") throw new Error("--source needs a directory");
    } else if (DEFAULT_CASES.includes(arg) || NAMED_CASES.includes(arg)) {
      cases.push(arg);
    } else {
      throw new Error(
        `unknown argument ${arg}: the cases are ${[...DEFAULT_CASES, ...NAMED_CASES].join(", ")}`,
      );
    }
  }
  return { cases: cases.length === 0 ? DEFAULT_CASES : cases, runs, source };
}

async function main(): Promise<void> {
  const { cases, runs, source } = parseArgs(Deno.args);
  const needsBundle = cases.some((c) => ["startup", "file", "ldap", "ldap1m"].includes(c));
  const bundle = needsBundle ? await buildBundle(source) : undefined;
  try {
    for (const name of cases) {
      if (bundle !== undefined && name === "startup") printJson(await startupCase(bundle));
      else if (bundle !== undefined && name === "file") printJson(await fileCase(bundle, runs));
      else if (bundle !== undefined && name === "ldap") printJson(await ldapCase(bundle, { runs }));
      else if (bundle !== undefined && name === "ldap1m") {
        printJson(
          await ldapCase(bundle, {
            name: "ldap1m",
            users: 1_000_000,
            groups: 50_000,
            runs,
            maxPeakMB: 1000,
          }),
        );
      } else await script(`bench_${name}.ts`);
    }
  } finally {
    await bundle?.remove();
  }
}

try {
  await main();
} catch (error) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(`bench: ${error instanceof Error ? error.message : String(error)}\n`),
  );
  Deno.exit(1);
}
