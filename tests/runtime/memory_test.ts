import assert from "node:assert/strict";
import { memoryBudgetBytes, relieveMemory } from "../../src/runtime/memory.ts";

Deno.test("memoryBudgetBytes() takes a positive ROSTER_MEMORY_BUDGET_MB, else 256 MiB", () => {
  assert.equal(memoryBudgetBytes(undefined), 256 * 1024 * 1024);
  assert.equal(memoryBudgetBytes("512"), 512 * 1024 * 1024);
  assert.equal(memoryBudgetBytes("0"), 256 * 1024 * 1024);
  assert.equal(memoryBudgetBytes("-5"), 256 * 1024 * 1024);
  assert.equal(memoryBudgetBytes("lots"), 256 * 1024 * 1024);
});

Deno.test("relieveMemory() does nothing while the process is under its budget", () => {
  Deno.env.set("ROSTER_MEMORY_BUDGET_MB", String(1024 * 1024)); // a terabyte: never reached
  assert.equal(relieveMemory(), false);
});
