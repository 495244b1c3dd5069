/**
 * The `file` provider: reads a directory export from disk, as LDIF, CSV or JSON.
 *
 * Every format is streamed: the file is decoded chunk by chunk and records are paged out as they
 * are parsed, so a 100,000-user export is never held in memory as text. The provider always reads
 * the whole file (`done.incremental` is false).
 *
 * One file per format: `ldif.ts`, `csv.ts`, `json.ts` (the CSV and JSON record helpers are in
 * `records.ts`). This module picks the format, opens the file and pages the records out.
 *
 * - LDIF is read with exactly the rules of a live LDAP server (see `src/ldap/`): object classes,
 *   email, group name and member attributes, `sync.userPath`/`groupPath` under
 *   `directory.file.rootPath` (subtree scope), `sync.userFilter`/`groupFilter` as LDAP filters,
 *   and AD mode (`directory.file.ad`: objectGUID, userAccountControl, deleted objects).
 * - CSV and JSON use roster's own simple formats (documented in the README); their
 *   `sync.userFilter`/`groupFilter` use the include/exclude syntax, which the engine applies.
 * @module
 */

import type { Config } from "../../config/schema.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import {
  ConfigError,
  DirectoryError,
  errorMessage,
  RosterError,
  SourceIncompleteError,
} from "../../errors.ts";
import type {
  DirectoryPage,
  DirectoryProvider,
  ProviderContext,
  ReadOptions,
} from "../provider.ts";
import { decodeText, resolveEncoding, utf8Stream } from "../../text/decode.ts";
import { csvItems } from "./csv.ts";
import { jsonItems } from "./json.ts";
import { ldifItems, ldifRules } from "./ldif.ts";
import type { Item } from "./records.ts";

/** Records per `users`, `groups` or `skipped` page. */
export const FILE_PAGE_SIZE = 1000;

/** A file format the provider reads. */
export type FileFormat = "ldif" | "csv" | "json";

/** The settings the `file` provider reads: `directory.file` and `sync`. */
export interface FileSettings {
  file: Config["directory"]["file"];
  sync: Config["sync"];
}

const EXTENSIONS: Record<string, FileFormat> = {
  ".ldif": "ldif",
  ".ldf": "ldif",
  ".csv": "csv",
  ".json": "json",
};

/**
 * Picks the format: `directory.file.format` unless it is `auto`, else the file extension
 * (`.ldif`/`.ldf`, `.csv`, `.json`, case-insensitive).
 * @throws {ConfigError} naming `directory.file.format` when `auto` cannot tell.
 */
export function fileFormat(
  path: string,
  format: FileSettings["file"]["format"],
): FileFormat {
  if (format !== "auto") return format;
  const match = /\.[^./\\]+$/.exec(path);
  const ext = match?.[0].toLowerCase();
  const found = ext === undefined ? undefined : EXTENSIONS[ext];
  if (found === undefined) {
    throw new ConfigError(
      `Cannot tell the format of directory file ${path}: the extension is not .ldif, .csv or .json`,
      {
        hint: "Set directory.file.format to ldif, csv or json",
        details: { setting: "directory.file.format", path },
      },
    );
  }
  return found;
}

/** Builds the `file` provider (`directory.type` = `file`). */
export function createFileProvider(context: ProviderContext<FileSettings>): DirectoryProvider {
  return {
    name: "file",
    read: (options) => readFile(context, options),
  };
}

async function openFile(path: string): Promise<ReadableStream<Uint8Array>> {
  const hint = `Check directory.file.path (relative paths are relative to the working directory, ` +
    `${Deno.cwd()})`;
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      throw new DirectoryError(`Cannot read directory file ${path}: it is a directory`, {
        hint,
        details: { path },
      });
    }
    const file = await Deno.open(path, { read: true });
    return file.readable;
  } catch (error) {
    if (error instanceof RosterError) throw error;
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Deno.errors.NotCapable
      ? "roster was not given read access to it"
      : errorMessage(error);
    throw new DirectoryError(`Cannot read directory file ${path}: ${reason}`, {
      hint,
      cause: error,
      details: { path },
    });
  }
}

async function* readFile(
  context: ProviderContext<FileSettings>,
  options: ReadOptions,
): AsyncGenerator<DirectoryPage> {
  const config = context.settings;
  const path = config.file.path;
  if (path === undefined) {
    throw new ConfigError("Directory file is not configured: directory.file.path is not set", {
      hint: "Set directory.file.path to the path of an .ldif, .csv or .json export",
      details: { setting: "directory.file.path" },
    });
  }
  const format = fileFormat(path, config.file.format);
  // Validate settings before touching the file.
  const ldif = format === "ldif" ? ldifRules(config) : undefined;
  const encoding = config.file.encoding;
  resolveEncoding(encoding);
  if (options.mode === "incremental") {
    context.log("debug", "The file provider always reads the whole file");
  }
  const file = await openFile(path);
  const decoding = { encoding, source: path, refuseReplacement: format !== "ldif" };
  // The LDIF reader counts the lines it splits, and the decoder takes its count for errors.
  const lines = { read: 0 };
  const batches = ldif !== undefined
    ? ldifItems(decodeText(file, { ...decoding, linesRead: () => lines.read }), {
      path,
      rules: ldif,
      lines,
    })
    : batched(
      format === "csv"
        ? csvItems(utf8Stream(file, decoding), path)
        : jsonItems(utf8Stream(file, decoding), path),
    );

  let users: DirectoryUser[] = [];
  let groups: DirectoryGroup[] = [];
  let skipped: SkippedEntry[] = [];
  const notices: DirectoryPage[] = [];
  let count = 0;
  try {
    for await (const batch of batches) {
      for (const item of batch) {
        if (options.signal?.aborted) {
          throw new SourceIncompleteError(`Reading directory file ${path} was cancelled`, {
            cause: options.signal.reason,
            details: { path },
          });
        }
        count++;
        switch (item.kind) {
          case "user":
            if (!options.users) break;
            users.push(item.user);
            if (users.length >= FILE_PAGE_SIZE) {
              yield { kind: "users", users };
              users = [];
            }
            break;
          case "group":
            if (!options.groups) break;
            groups.push(item.group);
            if (groups.length >= FILE_PAGE_SIZE) {
              yield { kind: "groups", groups };
              groups = [];
            }
            break;
          case "skipped":
            if (item.entry.kind === "user" ? !options.users : !options.groups) break;
            skipped.push(item.entry);
            if (skipped.length >= FILE_PAGE_SIZE) {
              yield { kind: "skipped", entries: skipped };
              skipped = [];
            }
            break;
          case "notice":
            notices.push(item);
            break;
        }
      }
    }
  } catch (error) {
    if (error instanceof RosterError) throw error;
    throw new SourceIncompleteError(
      `Reading directory file ${path} failed after ${count} records: ${errorMessage(error)}`,
      { hint: "Check that the file is readable and complete", cause: error, details: { path } },
    );
  }
  if (users.length > 0) yield { kind: "users", users };
  if (groups.length > 0) yield { kind: "groups", groups };
  if (skipped.length > 0) yield { kind: "skipped", entries: skipped };
  yield* notices;
  yield { kind: "done", incremental: false };
}

/** Items one at a time, as one-item batches. */
async function* batched(items: AsyncIterable<Item>): AsyncGenerator<Item[]> {
  for await (const item of items) yield [item];
}
