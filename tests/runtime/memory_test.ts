import assert from "node:assert/strict";
import { memoryBudgetBytes, relieveMemory } from "../../src/runtime/memory.ts";

Deno.test("memoryBudgetBytes() takes a positive ROSTER_MEMORY_BUDGET_MB, else 192 MiB", () => {
  assert.equal(memoryBudgetBytes(undefined), 192 * 1024 * 1024);
  assert.equal(memoryBudgetBytes("512"), 512 * 1024 * 1024);
  assert.equal(memoryBudgetBytes("0"), 192 * 1024 * 1024);
  assert.equal(memoryBudgetBytes("-5"), 192 * 1024 * 1024);
  assert.equal(memoryBudgetBytes("lots"), 192 * 1024 * 1024);
});

Deno.test("relieveMemory() does nothing while the process is under its budget", () => {
  Deno.env.set("ROSTER_MEMORY_BUDGET_MB", String(1024 * 1024)); // a terabyte: never reached
  assert.equal(relieveMemory(), false);
});
