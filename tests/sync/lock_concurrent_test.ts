import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./_lock_child.ts", import.meta.url));

async function race(processes: number): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const state = join(dir, "state.kv");
    const release = join(dir, "release");
    const children = Array.from({ length: processes }, () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--unstable-kv", "--quiet", CHILD, state, dir],
        stdout: "piped",
        stderr: "piped",
      }).spawn());
    const decoder = new TextDecoder();
    const results: { pid: number; code: number; stdout: string }[] = [];
    const losers = children.map(async (child) => {
      const output = await child.output();
      results.push({ pid: child.pid, code: output.code, stdout: decoder.decode(output.stdout) });
    });
    // Every process has the store open before any of them takes the lock.
    for (;;) {
      let ready = 0;
      for await (const entry of Deno.readDir(dir)) if (entry.name.startsWith("ready-")) ready++;
      if (ready === processes) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Deno.writeTextFile(join(dir, "go"), "");
    // The winner holds the lock until every other process has ended.
    while (results.length < processes - 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await Deno.writeTextFile(release, "");
    await Promise.all(losers);
    const winners = results.filter((r) => r.code === 0);
    assert.equal(winners.length, 1, JSON.stringify(results));
    const winner = winners[0];
    assert.ok(winner !== undefined);
    assert.equal(winner.stdout, "held\n");
    for (const loser of results.filter((r) => r !== winner)) {
      assert.equal(loser.code, 12, loser.stdout);
      const refusal = JSON.parse(loser.stdout);
      assert.match(
        refusal.message,
        new RegExp(
          `^Cannot start: another roster run holds the lock on /data: sync \\(pid ${winner.pid} on `,
        ),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("withLock() in processes started at the same instant: one holds, every other exits 12 naming it", async () => {
  for (let round = 0; round < 3; round++) await race(8);
});
