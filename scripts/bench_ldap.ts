/**
 * The LDAP benchmark: `roster test --output json`, run from the bundle, against a local slapd,
 * beside the floor: `ldapsearch` paging the same users and groups with the same attributes and
 * the same page size (users, then groups; the floor is the sum of the two wall times).
 * One unmeasured pass of each side warms slapd and checks what they print (entries, roster's
 * exit code and output size); then alternating runs (ldapsearch users, ldapsearch groups,
 * roster), stdout discarded, medians.
 *
 * ```sh
 * deno run -A scripts/bench_ldap.ts                     # 100,000 users, 5,000 groups, 10% nested
 * deno run -A scripts/bench_ldap.ts --users 1000000 --groups 50000   # minutes: slapadd of 1M
 * deno run -A scripts/bench_ldap.ts --users 10000 --groups 1000 --runs 1 --keep
 * ```
 *
 * Options: `--users N` (100000), `--groups M` (5000), `--nested-pct P` (10), `--page-size S`
 * (1000, for both ldapsearch and roster's `directory.ldap.pageSize`), `--seed S` (42),
 * `--runs R` (3), `--max-peak-mb MB` (the peak RSS target: 150), `--source DIR` (the checkout
 * to bundle: this one), `--keep` (leave the temporary directory: the LDIF, roster's data
 * directory and the slapd instance, stopped; `scripts/slapd.sh start DIR/slapd` starts it
 * again). `deno task bench ldap` and `deno task bench ldap1m` run this through
 * {@link ldapCase}. Needs slapd, ldap-utils and openssl (`scripts/slapd.sh`). Prints one JSON
 * line on stdout; progress goes to stderr.
 * @module
 */

import { join } from "node:path";
import { configSchema } from "../src/config/schema.ts";
import { groupAttributes, ldapMappingSettings, userAttributes } from "../src/ldap/entry.ts";
import {
  buildBundle,
  type Bundle,
  measure,
  type Measurement,
  median,
  printJson,
  REPO,
  summarize,
  verdict,
} from "./_measure.ts";
import { instanceEnv, sh } from "./_shell.ts";
import { writeLdif } from "./gen_ldif.ts";

const SLAPD_SH = join(REPO, "scripts", "slapd.sh");
const encoder = new TextEncoder();

/** Options of {@link ldapCase}. */
export interface LdapCaseOptions {
  /** The case's name in its JSON line. @default "ldap" */
  name?: string;
  /** Users in the directory. @default 100000 */
  users?: number;
  /** Groups in the directory. @default 5000 */
  groups?: number;
  /** Percentage of groups holding other groups. @default 10 */
  nestedPct?: number;
  /** The page size of both ldapsearch and roster (`directory.ldap.pageSize`). @default 1000 */
  pageSize?: number;
  /** The generator's seed. @default 42 */
  seed?: number;
  /** Measured runs of each side. @default 3 */
  runs?: number;
  /** The peak RSS target in megabytes (10^6 bytes). @default 150 */
  maxPeakMB?: number;
  /** Leave the temporary directory (slapd stopped) and say where on stderr. @default false */
  keep?: boolean;
}

function progress(text: string): void {
  Deno.stderr.writeSync(encoder.encode(`bench ldap: ${text}\n`));
}

/**
 * Counts the LDIF records in ldapsearch's output as it streams: lines starting with `dn:`
 * (a continuation line starts with a space, so it never matches). Scans bytes with the native
 * `indexOf` rather than decoding text.
 */
function dnCounter(): { onStdout(chunk: Uint8Array): void; count(): number } {
  let count = 0;
  // Bytes of "dn:" matched at the start of the current line (0-3; -1 = not at a line start).
  let matched = 0;
  const DN = [100, 110, 58]; // "dn:"
  return {
    onStdout(chunk) {
      let at = 0;
      while (at < chunk.length) {
        if (matched >= 0 && matched < 3) {
          if (chunk[at] === DN[matched]) {
            matched++;
            if (matched === 3) count++;
            at++;
            continue;
          }
          matched = -1;
        }
        const newline = chunk.indexOf(10, at);
        if (newline === -1) return;
        matched = 0;
        at = newline + 1;
      }
    },
    count: () => count,
  };
}

/**
 * Generates the directory, loads it into a new slapd instance, stores roster's configuration
 * (page size, the reader's password through `config set --secret-env`), warms slapd's caches
 * with one pass of each side, then measures alternating runs and returns the case's JSON line.
 * slapd is stopped and the temporary directory removed (unless `keep`) whatever happens.
 */
export async function ldapCase(
  bundle: Bundle,
  options: LdapCaseOptions = {},
): Promise<Record<string, unknown>> {
  const o = {
    name: "ldap",
    users: 100_000,
    groups: 5_000,
    nestedPct: 10,
    pageSize: 1000,
    seed: 42,
    runs: 3,
    maxPeakMB: 150,
    keep: false,
    ...options,
  };
  const tmp = await Deno.makeTempDir({ prefix: "roster-bench-ldap-" });
  const instance = join(tmp, "slapd");
  const dataDir = join(tmp, "data");
  let started = false;
  try {
    progress(`generating ${o.users} users and ${o.groups} groups (${o.nestedPct}% nested)`);
    const ldif = join(tmp, "directory.ldif");
    let t = performance.now();
    const file = await Deno.open(ldif, { write: true, create: true, truncate: true });
    try {
      await writeLdif(file, {
        users: o.users,
        groups: o.groups,
        nestedPct: o.nestedPct,
        seed: o.seed,
        memberOf: true,
      });
    } finally {
      file.close();
    }
    const generateSeconds = +((performance.now() - t) / 1000).toFixed(1);

    progress("loading slapd (slapadd)");
    t = performance.now();
    await sh([SLAPD_SH, "init", instance]);
    await sh([SLAPD_SH, "load", instance, ldif]);
    const loadSeconds = +((performance.now() - t) / 1000).toFixed(1);
    if (!o.keep) await Deno.remove(ldif); // up to 1 GB at 1,000,000 users
    await sh([SLAPD_SH, "start", instance]);
    started = true;
    const env = await instanceEnv(SLAPD_SH, instance);
    const port = Number(env("LDAP_PORT"));
    const base = env("LDAP_BASE_DN");
    const readerDn = env("LDAP_READER_DN");
    const readerPw = env("LDAP_READER_PW");

    await Deno.mkdir(dataDir, { mode: 0o700 });
    const stored = {
      directory: {
        type: "ldap",
        ldap: {
          hostname: "127.0.0.1",
          port,
          rootPath: base,
          username: readerDn,
          pageSize: o.pageSize,
        },
      },
      sync: { userPath: "ou=people", groupPath: "ou=groups" },
    };
    await Deno.writeTextFile(join(dataDir, "config.json"), JSON.stringify(stored), {
      mode: 0o600,
    });
    // Also the run that fills Deno's code cache for the bundle, as any later run finds it.
    const set = await measure(
      [...bundle.command, "--data-dir", dataDir, "-q", "config", "set"]
        .concat(["directory.ldap.password", "--secret-env", "BENCH_LDAP_PW"]),
      { cwd: bundle.dir, env: { BENCH_LDAP_PW: readerPw } },
    );
    if (set.code !== 0) throw new Error(`roster config set failed: ${set.stderrTail}`);

    // The attributes roster asks for, from its own mapping, so that both sides read the same.
    const config = configSchema.parse(stored);
    const s = ldapMappingSettings(config.sync, { ad: false });
    const search = (what: "users" | "groups") => [
      "ldapsearch",
      "-x",
      "-LLL",
      "-H",
      `ldap://127.0.0.1:${port}`,
      "-D",
      readerDn,
      "-w",
      readerPw,
      "-E",
      `pr=${o.pageSize}/noprompt`,
      "-b",
      `ou=${what === "users" ? "people" : "groups"},${base}`,
      `(objectClass=${what === "users" ? s.userObjectClass : s.groupObjectClass})`,
      ...(what === "users" ? userAttributes(s) : groupAttributes(s)),
    ];
    const rosterTest = [...bundle.command, "--data-dir", dataDir, "-q", "test", "--output", "json"];

    // slapd's mdb pages are cold right after slapadd: one pass of each side warms them, and
    // checks what each side prints (the measured runs discard stdout, see measure()).
    progress("warming up: ldapsearch users, groups, roster test (counting what they print)");
    const entries = { users: dnCounter(), groups: dnCounter() };
    for (const what of ["users", "groups"] as const) {
      const m = await measure(search(what), { onStdout: entries[what].onStdout });
      if (m.code !== 0) throw new Error(`ldapsearch (${what}) exited ${m.code}: ${m.stderrTail}`);
    }
    const check = await measure(rosterTest, {
      cwd: bundle.dir,
      env: { NO_COLOR: "1" },
      countStdout: true,
    });

    const rosterRuns: Measurement[] = [];
    const floorRuns: { wallMs: number; cpuMs: number }[] = [];
    for (let run = 1; run <= o.runs; run++) {
      progress(`run ${run}/${o.runs}: ldapsearch users, groups`);
      const users = await measure(search("users"));
      const groups = await measure(search("groups"));
      floorRuns.push({ wallMs: users.wallMs + groups.wallMs, cpuMs: users.cpuMs + groups.cpuMs });
      progress(`run ${run}/${o.runs}: roster test --output json (bundle)`);
      rosterRuns.push(await measure(rosterTest, { cwd: bundle.dir, env: { NO_COLOR: "1" } }));
    }
    const roster = summarize(rosterRuns);
    const floor = median(floorRuns, (r) => r.wallMs);
    const floorSeconds = +(floor.wallMs / 1000).toFixed(3);
    return {
      case: o.name,
      users: o.users,
      groups: o.groups,
      nestedPct: o.nestedPct,
      pageSize: o.pageSize,
      runs: o.runs,
      generateSeconds,
      loadSeconds,
      roster: { command: "roster test --output json (bundle)", ...roster },
      floor: {
        command: `ldapsearch -E pr=${o.pageSize}/noprompt, users then groups`,
        wallSeconds: floorSeconds,
        cpuSeconds: +(median(floorRuns, (r) => r.cpuMs).cpuMs / 1000).toFixed(3),
      },
      check: {
        ldapsearchEntries: { users: entries.users.count(), groups: entries.groups.count() },
        rosterExitCode: check.code,
        rosterStdoutBytes: check.stdoutBytes,
        ...(check.code === 0 ? {} : { rosterStderr: check.stderrTail }),
      },
      ...verdict(roster, { floorSeconds, target: { ratio: 2, peakRssMB: o.maxPeakMB } }),
    };
  } finally {
    if (started) await sh([SLAPD_SH, "stop", instance]).catch(() => {});
    if (o.keep) progress(`kept ${tmp}`);
    else await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Parses `--name value` pairs (and `--keep`), throwing on an unknown or malformed one. */
function parseArgs(args: readonly string[]): LdapCaseOptions & { source?: string } {
  const o: LdapCaseOptions & { source?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--keep") {
      o.keep = true;
      continue;
    }
    const text = args[++i];
    if (arg === "--source" && text !== undefined) {
      o.source = text;
      continue;
    }
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${arg} needs a whole number`);
    if (arg === "--users") o.users = value;
    else if (arg === "--groups") o.groups = value;
    else if (arg === "--nested-pct") o.nestedPct = value;
    else if (arg === "--page-size") o.pageSize = value;
    else if (arg === "--seed") o.seed = value;
    else if (arg === "--runs") o.runs = Math.max(1, value);
    else if (arg === "--max-peak-mb") o.maxPeakMB = value;
    else throw new Error(`unknown argument ${arg}`);
  }
  return o;
}

if (import.meta.main) {
  try {
    const { source, ...options } = parseArgs(Deno.args);
    const bundle = await buildBundle(source);
    try {
      printJson(await ldapCase(bundle, options));
    } finally {
      await bundle.remove();
    }
  } catch (error) {
    progress(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
