/**
 * `deno task compile`: builds single-file `roster` binaries with `deno compile`.
 *
 * Every target needs the matching `denort` runtime. `deno compile` downloads it, which needs
 * network access; on a release machine without it, set `DENORT_BIN` to a local `denort` and
 * only the target that runtime was built for is compiled (the host's, unless `--target` says
 * otherwise).
 *
 * The binaries run with roster's V8 flags built in (`--v8-flags`, see `_v8_flags.ts`: a young
 * generation capped for Deno's V8, which has no pointer compression, and a slower-growing old
 * generation).
 *
 * Usage: deno task compile [--target <triple>]... [--out-dir dist]
 * @module
 */

import { V8_FLAGS } from "./_v8_flags.ts";

const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

function hostTarget(): string {
  const { arch, os } = Deno.build;
  if (os === "linux") return `${arch}-unknown-linux-gnu`;
  if (os === "darwin") return `${arch}-apple-darwin`;
  return `${arch}-pc-windows-msvc`;
}

function parseArgs(args: string[]): { targets: string[]; outDir: string } {
  const targets: string[] = [];
  let outDir = "dist";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const next = args[i + 1];
    if (arg === "--target" && next !== undefined) {
      targets.push(next);
      i++;
    } else if (arg === "--out-dir" && next !== undefined) {
      outDir = next;
      i++;
    } else {
      throw new TypeError(`Cannot parse argument ${arg}: expected --target or --out-dir`);
    }
  }
  return { targets, outDir };
}

const { targets: asked, outDir } = parseArgs(Deno.args);
const denort = Deno.env.get("DENORT_BIN");
const targets = asked.length > 0 ? asked : denort ? [hostTarget()] : [...TARGETS];
const root = new URL("..", import.meta.url).pathname;

let failures = 0;
for (const target of targets) {
  const exe = target.includes("windows") ? "roster.exe" : "roster";
  const output = `${outDir}/${target}/${exe}`;
  const args = [
    "compile",
    "--allow-all",
    "--unstable-kv",
    "--no-check",
    `--v8-flags=${V8_FLAGS}`,
    "--target",
    target,
    "--output",
    output,
    "main.ts",
  ];
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr).trim();
  if (code === 0) {
    Deno.stderr.writeSync(new TextEncoder().encode(`compiled ${output}\n`));
  } else {
    failures++;
    const why = denort
      ? `DENORT_BIN=${denort} could not build ${target}`
      : `the denort runtime for ${target} could not be downloaded; set DENORT_BIN to a local denort`;
    Deno.stderr.writeSync(new TextEncoder().encode(`cannot compile ${target}: ${why}\n${text}\n`));
  }
}
Deno.exit(failures === 0 ? 0 : 1);
