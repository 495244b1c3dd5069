/**
 * Running the instance scripts (`scripts/slapd.sh`, `scripts/samba.sh`) from Deno: shared by
 * the benchmarks and the test helpers that start real directory servers.
 * @module
 */

const decoder = new TextDecoder();

/**
 * Runs `args[0]` with the rest as arguments and returns its stdout; a non-zero exit throws
 * with the command, its exit status and what it printed.
 */
export async function sh(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<string> {
  const [program, ...rest] = args;
  if (program === undefined) throw new TypeError("Cannot run a command: it is empty");
  const output = await new Deno.Command(program, {
    args: rest,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `${args.join(" ")} failed (exit ${output.code}):\n${decoder.decode(output.stderr)}` +
        decoder.decode(output.stdout),
    );
  }
  return decoder.decode(output.stdout);
}

/**
 * Reads what `<script> env DIR` prints (`export NAME='value'` lines) and returns a getter that
 * throws, naming the script, when a variable is missing.
 */
export async function instanceEnv(script: string, dir: string): Promise<(name: string) => string> {
  const vars = new Map<string, string>();
  for (const line of (await sh([script, "env", dir])).split("\n")) {
    const match = /^export ([A-Z_]+)=(.*)$/.exec(line);
    const [, name, value] = match ?? [];
    if (name !== undefined && value !== undefined) vars.set(name, value.replace(/^'(.*)'$/, "$1"));
  }
  return (name) => {
    const value = vars.get(name);
    if (value === undefined) throw new Error(`${script} env printed no ${name}`);
    return value;
  };
}
