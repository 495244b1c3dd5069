/**
 * LDAP benchmark: wall time and peak RSS of `roster test --output json` against a local slapd,
 * next to `ldapsearch` paging the same users and groups with the same attributes.
 *
 * ```sh
 * deno run -A scripts/bench_ldap.ts                      # 100,000 users, 5,000 groups, 10% nested
 * deno run -A scripts/bench_ldap.ts --users 10000 --groups 1000 --runs 3
 * ```
 *
 * Options: `--users N` (100000), `--groups M` (5000), `--nested-pct P` (10), `--page-size S`
 * (500), `--seed S` (42), `--runs R` (1; the median run is reported), `--keep` (leave the
 * temporary directory and stop slapd only). Needs slapd, ldap-utils and openssl
 * (`scripts/slapd.sh`). Peak RSS comes from `/usr/bin/time -v` when present, else from sampling
 * `/proc/<pid>/status` (VmHWM). Prints one JSON summary on stdout; progress goes to stderr.
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema } from "../src/config/schema.ts";
import { groupAttributes, ldapMappingSettings, userAttributes } from "../src/ldap/entry.ts";
import { measure as measureCommand } from "./_measure.ts";
import { instanceEnv, sh } from "./_shell.ts";
import { writeLdif } from "./gen_ldif.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const SLAPD_SH = join(REPO, "scripts", "slapd.sh");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Options {
  users: number;
  groups: number;
  nestedPct: number;
  pageSize: number;
  seed: number;
  runs: number;
  keep: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    users: 100_000,
    groups: 5_000,
    nestedPct: 10,
    pageSize: 500,
    seed: 42,
    runs: 3,
    keep: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--keep") {
      o.keep = true;
      continue;
    }
    const value = Number(args[++i]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${arg} needs a whole number`);
    if (arg === "--users") o.users = value;
    else if (arg === "--groups") o.groups = value;
    else if (arg === "--nested-pct") o.nestedPct = value;
    else if (arg === "--page-size") o.pageSize = value;
    else if (arg === "--seed") o.seed = value;
    else if (arg === "--runs") o.runs = Math.max(1, value);
    else throw new Error(`unknown argument ${arg}`);
  }
  return o;
}

function progress(text: string): void {
  Deno.stderr.writeSync(encoder.encode(`bench_ldap: ${text}\n`));
}

interface Measured {
  wallMs: number;
  /** User + system CPU time (0 without GNU time). */
  cpuMs: number;
  peakRssMB: number;
  exitCode: number;
  /** `dn:` lines (ldapsearch) or bytes of stdout (roster). */
  count: number;
  stderrTail: string;
}

/** Runs a command, counting `dn:` lines (or bytes) of stdout, and measures time and peak RSS. */
async function measure(
  cmd: string[],
  options: { env?: Record<string, string>; countDn: boolean },
): Promise<Measured> {
  let count = 0;
  let carry = "";
  const result = await measureCommand(cmd, {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.countDn
      ? {
        onStdout: (chunk: Uint8Array) => {
          const lines = (carry + decoder.decode(chunk, { stream: true })).split("\n");
          carry = lines.pop() ?? "";
          for (const line of lines) if (line.startsWith("dn:")) count++;
        },
      }
      : {}),
  });
  return {
    wallMs: Math.round(result.wallMs),
    cpuMs: result.cpuMs,
    peakRssMB: Math.round(result.peakRssMiB * 10) / 10,
    exitCode: result.code,
    count: options.countDn ? count : result.stdoutBytes,
    stderrTail: result.stderrTail,
  };
}

function median<T>(items: T[], key: (t: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const o = parseArgs(Deno.args);
  const tmp = await Deno.makeTempDir({ prefix: "roster-bench-ldap-" });
  const instance = join(tmp, "slapd");
  const dataDir = join(tmp, "data");
  let started = false;
  try {
    progress(`generating ${o.users} users and ${o.groups} groups (${o.nestedPct}% nested)`);
    const ldif = join(tmp, "directory.ldif");
    let t = performance.now();
    const file = await Deno.open(ldif, { write: true, create: true, truncate: true });
    await writeLdif(file, {
      users: o.users,
      groups: o.groups,
      nestedPct: o.nestedPct,
      seed: o.seed,
      memberOf: true,
    });
    file.close();
    const generateMs = Math.round(performance.now() - t);

    progress("starting slapd");
    t = performance.now();
    await sh([SLAPD_SH, "init", instance]);
    await sh([SLAPD_SH, "load", instance, ldif]);
    const loadMs = Math.round(performance.now() - t);
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
    await Deno.writeTextFile(join(dataDir, "config.json"), JSON.stringify(stored, null, 2));
    const deno = Deno.execPath();
    await sh(
      [
        deno,
        "run",
        "-A",
        join(REPO, "main.ts"),
        "--data-dir",
        dataDir,
        "config",
        "set",
        "directory.ldap.password",
        "--secret-env",
        "BENCH_LDAP_PW",
      ],
      { BENCH_LDAP_PW: readerPw },
    );

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

    // Warm the server's caches (mdb pages are cold right after slapadd) so that neither side
    // pays for them.
    progress("warming up");
    await measure(search("users"), { countDn: true });
    await measure(search("groups"), { countDn: true });

    const rosterRuns: Measured[] = [];
    const ldapRuns: { users: Measured; groups: Measured; sequentialMs: number }[] = [];
    for (let run = 1; run <= o.runs; run++) {
      progress(`run ${run}/${o.runs}: ldapsearch`);
      const users = await measure(search("users"), { countDn: true });
      const groups = await measure(search("groups"), { countDn: true });
      ldapRuns.push({ users, groups, sequentialMs: users.wallMs + groups.wallMs });
      progress(`run ${run}/${o.runs}: roster test --output json`);
      rosterRuns.push(
        await measure(
          [
            deno,
            "run",
            "-A",
            join(REPO, "main.ts"),
            "--data-dir",
            dataDir,
            "test",
            "--output",
            "json",
          ],
          { countDn: false, env: { NO_COLOR: "1" } },
        ),
      );
    }
    const roster = median(rosterRuns, (r) => r.wallMs);
    const ldap = median(ldapRuns, (r) => r.sequentialMs);
    const ratio = Math.round((roster.wallMs / ldap.sequentialMs) * 100) / 100;
    const summary = {
      users: o.users,
      groups: o.groups,
      nestedPct: o.nestedPct,
      pageSize: o.pageSize,
      runs: o.runs,
      cpus: navigator.hardwareConcurrency,
      generateMs,
      loadMs,
      roster: {
        command: "roster test --output json",
        wallMs: roster.wallMs,
        cpuMs: median(rosterRuns, (r) => r.cpuMs).cpuMs,
        peakRssMB: median(rosterRuns, (r) => r.peakRssMB).peakRssMB,
        exitCode: roster.exitCode,
        stdoutBytes: roster.count,
        ...(roster.exitCode === 0 ? {} : { stderr: roster.stderrTail }),
      },
      ldapsearch: {
        command: `ldapsearch -E pr=${o.pageSize}/noprompt (users, then groups)`,
        wallMs: ldap.sequentialMs,
        cpuMs: median(ldapRuns, (r) => r.users.cpuMs + r.groups.cpuMs).users.cpuMs +
          median(ldapRuns, (r) => r.users.cpuMs + r.groups.cpuMs).groups.cpuMs,
        users: {
          wallMs: ldap.users.wallMs,
          entries: ldap.users.count,
          peakRssMB: ldap.users.peakRssMB,
        },
        groups: {
          wallMs: ldap.groups.wallMs,
          entries: ldap.groups.count,
          peakRssMB: ldap.groups.peakRssMB,
        },
      },
      ratio,
      targets: {
        withinTwiceLdapsearch: ratio <= 2,
        peakRssAtMost150MB: median(rosterRuns, (r) => r.peakRssMB).peakRssMB <= 150,
      },
    };
    await Deno.stdout.write(encoder.encode(JSON.stringify(summary, null, 2) + "\n"));
  } finally {
    if (started) await sh([SLAPD_SH, "stop", instance]).catch(() => {});
    if (!o.keep) await Deno.remove(tmp, { recursive: true }).catch(() => {});
    else progress(`kept ${tmp}`);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    progress(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
