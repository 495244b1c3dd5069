/**
 * The bundled program (`deno bundle`) runs on its own: outside the repository, with an empty
 * DENO_DIR and, where `unshare -n` works, without network.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, roster } from "../_helpers.ts";

async function output(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    stdout: decoder.decode(result.stdout),
    stderr: decoder.decode(result.stderr),
  };
}

async function canUnshareNetwork(): Promise<boolean> {
  try {
    return (await output("unshare", ["-n", "true"])).code === 0;
  } catch {
    return false;
  }
}

Deno.test("the bundle runs outside the repository with an empty DENO_DIR and no network", async () => {
  const root = await Deno.makeTempDir({ prefix: "roster-bundle-" });
  try {
    const bundled = await output(Deno.execPath(), [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "-o",
      join(root, "roster.js"),
      "main.ts",
    ], { cwd: REPO_ROOT });
    assert.equal(bundled.code, 0, bundled.stderr);

    const outside = join(root, "outside");
    const denoDir = join(root, "deno-dir");
    const dataDir = join(root, "data");
    await Deno.mkdir(join(outside, "demo"), { recursive: true });
    await Deno.mkdir(denoDir);
    await Deno.copyFile(join(root, "roster.js"), join(outside, "roster.js"));
    for await (const entry of Deno.readDir(join(REPO_ROOT, "demo"))) {
      await Deno.copyFile(join(REPO_ROOT, "demo", entry.name), join(outside, "demo", entry.name));
    }

    // Without network when possible: `unshare -n` needs user namespaces or root.
    const isolated = await canUnshareNetwork();
    const run = (args: string[]) => {
      const deno = [Deno.execPath(), "run", "-A", "--unstable-kv", "roster.js", ...args];
      const [command = "", ...rest] = isolated ? ["unshare", "-n", ...deno] : deno;
      return output(command, rest, {
        cwd: outside,
        clearEnv: true,
        env: { DENO_DIR: denoDir, HOME: root, NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "" },
      });
    };

    const manifest = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
    const version = await run(["--version"]);
    assert.deepEqual(version, { code: 0, stdout: `${manifest.version}\n`, stderr: "" });

    // Configure the copied demo directory with the bundle itself, then test it.
    const demo = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "demo", "config.json")));
    const file = demo.directory.file;
    const settings: [string, string][] = [
      ["directory.type", "file"],
      ["directory.file.path", file.path],
      ["directory.file.format", file.format],
      ["directory.file.rootPath", file.rootPath],
      ["directory.file.ad", String(file.ad)],
    ];
    for (const [key, value] of Object.entries(demo.sync ?? {})) {
      settings.push([`sync.${key}`, String(value)]);
    }
    for (const [key, value] of settings) {
      const set = await run(["--data-dir", dataDir, "-q", "config", "set", key, value]);
      assert.equal(set.code, 0, `${key}: ${set.stderr}`);
    }
    const test = await run(["--data-dir", dataDir, "test", "--output", "json"]);
    assert.equal(test.code, 0, test.stderr);

    // The same output as the source program on the original demo directory.
    await Deno.mkdir(join(root, "reference"), { recursive: true });
    await Deno.writeTextFile(
      join(root, "reference", "config.json"),
      JSON.stringify({
        ...demo,
        directory: { ...demo.directory, file: { ...file, path: join(REPO_ROOT, file.path) } },
      }),
    );
    const source = await roster(["--data-dir", join(root, "reference"), "test", "-o", "json"]);
    assert.equal(source.code, 0, source.stderr);
    assert.equal(test.stdout, source.stdout);
    assert.deepEqual(JSON.parse(test.stdout).summary, {
      users: 46,
      enabled: 44,
      disabled: 1,
      deleted: 1,
      groups: 8,
      memberships: 106,
      skipped: 1,
      unresolved: 1,
      refused: 0,
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
