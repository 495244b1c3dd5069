/**
 * Measures a command's wall time and peak resident memory, for the benchmarks.
 *
 * Peak memory and CPU time come from GNU time (`/usr/bin/time -f "%M %U %S"`) when present;
 * without it, peak memory comes from polling the child's `VmHWM` in `/proc` (Linux), the
 * kernel's own high-water mark, and CPU time is not measured (0). CPU time (user + system) is
 * what a busy machine disturbs least, so the benchmarks report it beside wall time.
 * @module
 */

/** What one measured run gives. */
export interface Measurement {
  /** Wall-clock time in milliseconds. */
  wallMs: number;
  /** Peak resident set size in MiB (including child processes for GNU time). */
  peakRssMiB: number;
  /** User + system CPU time in milliseconds (0 without GNU time). */
  cpuMs: number;
  /** Exit code of the command. */
  code: number;
  /** Bytes the command wrote to stdout. */
  stdoutBytes: number;
  /** The last lines the command wrote to stderr. */
  stderrTail: string;
}

/** Options for {@link measure}. */
export interface MeasureOptions {
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Sees each chunk of stdout (which is otherwise discarded). */
  onStdout?: (chunk: Uint8Array) => void;
}

async function hasGnuTime(): Promise<boolean> {
  try {
    await Deno.stat("/usr/bin/time");
    return true;
  } catch {
    return false;
  }
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.byteLength;
    onChunk?.(chunk);
  }
  return bytes;
}

async function tail(stream: ReadableStream<Uint8Array>, lines: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text = (text + decoder.decode(chunk, { stream: true })).slice(-16384);
  }
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Runs `command args…`, discarding its stdout, and measures it. */
export async function measure(
  command: string[],
  options: MeasureOptions = {},
): Promise<Measurement> {
  const [program, ...args] = command;
  if (program === undefined) throw new TypeError("Cannot measure: the command is empty");
  const gnu = await hasGnuTime();
  const statsFile = await Deno.makeTempFile({ prefix: "roster-measure-" });
  const argv = gnu ? ["-f", "%M %U %S", "-o", statsFile, program, ...args] : args;
  const started = performance.now();
  const child = new Deno.Command(gnu ? "/usr/bin/time" : program, {
    args: argv,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let polledKiB = 0;
  const poll = gnu ? undefined : setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      if (match?.[1]) polledKiB = Math.max(polledKiB, Number(match[1]));
    } catch {
      // the process has exited
    }
  }, 20);
  const [stdoutBytes, stderrTail] = await Promise.all([
    drain(child.stdout, options.onStdout),
    tail(child.stderr, 5),
  ]);
  const { code } = await child.status;
  const wallMs = performance.now() - started;
  if (poll !== undefined) clearInterval(poll);
  let peakKiB = polledKiB;
  let cpuMs = 0;
  if (gnu) {
    const text = (await Deno.readTextFile(statsFile)).trim().split("\n").pop() ?? "0";
    const [rss = "0", user = "0", system = "0"] = text.split(" ");
    peakKiB = Number(rss) || 0;
    cpuMs = Math.round(((Number(user) || 0) + (Number(system) || 0)) * 1000);
  }
  await Deno.remove(statsFile);
  return { wallMs, peakRssMiB: peakKiB / 1024, cpuMs, code, stdoutBytes, stderrTail };
}
