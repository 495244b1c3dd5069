/**
 * CSV files in roster's own simple format (documented in the README): a header row naming the
 * columns `type`, `id`, `email`, `name`, `disabled`, `deleted`, `members`, then one user or group
 * per row, parsed as a stream with csv-parse. Errors name the line.
 * @module
 */

import { parse as parseCsv } from "csv-parse/stream";
import { errorMessage, RosterError } from "../../errors.ts";
import { BOOLEANS, dataError, groupItem, IdRegistry, type Item, userItem } from "./records.ts";

const CSV_COLUMNS = ["type", "id", "email", "name", "disabled", "deleted", "members"] as const;
type CsvColumn = typeof CSV_COLUMNS[number];

function isCsvColumn(name: string): name is CsvColumn {
  return (CSV_COLUMNS as readonly string[]).includes(name);
}

function csvLineOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("lines" in error)) return undefined;
  return typeof error.lines === "number" ? error.lines : undefined;
}

/** Reads a CSV export from `stream` (named `path` in errors) and yields its records. */
export async function* csvItems(
  stream: ReadableStream<Uint8Array>,
  path: string,
): AsyncGenerator<Item> {
  const records = stream.pipeThrough(parseCsv({
    bom: true,
    info: true,
    comment: "#",
    comment_no_infix: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
  }));
  const fix = "Fix the file: the header is type,id,email,name,disabled,deleted,members " +
    "(type and id required, any order)";
  let columns: (CsvColumn)[] | undefined;
  const ids = new IdRegistry();
  const reader = records.getReader();
  let finished = false;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<unknown>;
      try {
        next = await reader.read();
      } catch (error) {
        const line = csvLineOf(error);
        if (line === undefined || error instanceof RosterError) throw error;
        dataError(
          `Invalid CSV in ${path} at line ${line}: ${errorMessage(error)}`,
          "Every row needs as many fields as the header; quote fields that contain commas, " +
            "quotes or line breaks",
          { path, line },
        );
      }
      if (next.done) {
        finished = true;
        break;
      }
      const parsed = csvRecord(next.value);
      if (parsed === undefined) continue;
      const { record, line } = parsed;
      const at = `${path} at line ${line}`;
      if (columns === undefined) {
        const seen = new Set<string>();
        columns = record.map((raw, index) => {
          const name = raw.trim().toLowerCase();
          if (!isCsvColumn(name)) {
            dataError(
              `Invalid CSV header in ${at}: unknown column "${raw}" (column ${index + 1})`,
              fix,
              { path, line, column: raw },
            );
          }
          if (seen.has(name)) {
            dataError(`Invalid CSV header in ${at}: column "${name}" appears twice`, fix, {
              path,
              line,
              column: name,
            });
          }
          seen.add(name);
          return name;
        });
        for (const required of ["type", "id"] as const) {
          if (!seen.has(required)) {
            dataError(`Invalid CSV header in ${at}: the "${required}" column is missing`, fix, {
              path,
              line,
            });
          }
        }
        continue;
      }
      const row = new Map<CsvColumn, string>();
      columns.forEach((name, index) => row.set(name, (record[index] ?? "").trim()));
      yield csvRow(row, ids, { path, line });
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function csvRecord(value: unknown): { record: string[]; line: number } | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (!("record" in value) || !("info" in value)) return undefined;
  const record = value.record;
  const info = value.info;
  if (!Array.isArray(record) || typeof info !== "object" || info === null) return undefined;
  const line = "lines" in info && typeof info.lines === "number" ? info.lines : 0;
  return { record: record.map((v) => String(v)), line };
}

function csvRow(
  row: Map<CsvColumn, string>,
  ids: IdRegistry,
  where: { path: string; line: number },
): Item {
  const at = `${where.path} at line ${where.line}`;
  const details: Record<string, unknown> = where;
  const get = (name: CsvColumn) => row.get(name) ?? "";
  const type = get("type").toLowerCase();
  const id = get("id");
  if (type !== "user" && type !== "group") {
    dataError(
      `Invalid row in ${at}: type is "${get("type")}", not user or group`,
      "Set the type column to user or group",
      details,
    );
  }
  if (id === "") {
    dataError(
      `Invalid row in ${at}: the id is empty`,
      "Give every user and group a unique id",
      details,
    );
  }
  const first = ids.claim(id, `line ${where.line}`);
  if (first !== undefined) {
    dataError(
      `Duplicate id "${id}" in ${at}: already used at ${first}`,
      "Ids must be unique across users and groups (groups list members by id)",
      { ...details, id },
    );
  }
  const bool = (name: "disabled" | "deleted") => {
    const raw = get(name);
    const value = BOOLEANS[raw.toLowerCase()];
    if (value === undefined) {
      dataError(
        `Invalid row in ${at}: ${name} is "${raw}" for ${id}`,
        `Write ${name} as true/false, 1/0 or yes/no (empty means false)`,
        { ...details, id },
      );
    }
    return value;
  };
  if (type === "user") {
    if (get("members") !== "") {
      dataError(
        `Invalid row in ${at}: user ${id} has members`,
        "Only group rows may have members; list the user's id in its groups' members instead",
        { ...details, id },
      );
    }
    const email = get("email");
    return userItem(id, email === "" ? null : email, bool("disabled"), bool("deleted"));
  }
  for (const name of ["email", "disabled", "deleted"] as const) {
    if (get(name) !== "") {
      dataError(
        `Invalid row in ${at}: group ${id} has a value in the ${name} column`,
        `Leave ${name} empty on group rows`,
        { ...details, id },
      );
    }
  }
  const members = get("members").split(";").map((m) => m.trim()).filter((m) => m !== "");
  return groupItem(id, get("name"), members);
}
