/**
 * Run records (`src/state/store.ts`) as table rows, shared by `history` and `status`.
 * @module
 */

import type { RunRecord } from "../state/store.ts";

/** Formats a run as a table row: started, command, outcome, exit, read, sent, error. */
export function runRow(run: RunRecord): string[] {
  const seconds = (Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000;
  return [
    run.startedAt,
    run.command,
    run.outcome,
    String(run.exitCode),
    `${run.read.users}u ${run.read.groups}g`,
    `${run.sent.users}u ${run.sent.groups}g`,
    `${Number.isFinite(seconds) ? seconds.toFixed(1) : "?"}s`,
    (run.error ?? "").split("\n")[0] ?? "",
  ];
}

/** Headers of {@link runRow}. */
export const RUN_HEADERS = [
  "STARTED",
  "COMMAND",
  "OUTCOME",
  "EXIT",
  "READ",
  "SENT",
  "TIME",
  "ERROR",
];
