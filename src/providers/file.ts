/**
 * The `file` provider: reads a directory export from disk, as LDIF, CSV or JSON.
 *
 * Every format is streamed: the file is decoded chunk by chunk and records are paged out as they
 * are parsed, so a 100,000-user export is never held in memory as text. The provider always reads
 * the whole file (`done.incremental` is false).
 *
 * - LDIF is read with exactly the rules of a live LDAP server (see `src/ldap/`): object classes,
 *   email, group name and member attributes, `sync.userPath`/`groupPath` under
 *   `directory.file.rootPath` (subtree scope), `sync.userFilter`/`groupFilter` as LDAP filters,
 *   and AD mode (`directory.file.ad`: objectGUID, userAccountControl, deleted objects).
 * - CSV and JSON use roster's own simple formats (documented in the README); their
 *   `sync.userFilter`/`groupFilter` use the include/exclude syntax, which the engine applies.
 * @module
 */

import { parse as parseCsv } from "csv-parse/stream";
import { JSONParser } from "@streamparser/json";
import type { Config } from "../config/schema.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../engine/types.ts";
import {
  ConfigError,
  DirectoryDataError,
  DirectoryError,
  errorMessage,
  RosterError,
  SourceIncompleteError,
} from "../errors.ts";
import { DnSyntaxError, isDnWithin, normalizeDn, normalizeRdns, parseDn } from "../ldap/dn.ts";
import {
  deletedUserSearchFilter,
  entryToGroup,
  entryToUser,
  groupSearchFilter,
  ldapMappingSettings,
  RefPool,
  searchBase,
  userSearchFilter,
} from "../ldap/entry.ts";
import type { LdapEntry } from "../ldap/entry.ts";
import {
  type LdapFilter,
  matchesFilter,
  parseLdapFilter,
  unsupportedMatchingRules,
  validateLdapFilter,
} from "../ldap/filter.ts";
import { readLdif } from "../ldap/ldif.ts";
import { resolveEncoding, utf8Stream } from "../text/decode.ts";
import type { DirectoryPage, DirectoryProvider, ProviderContext, ReadOptions } from "./provider.ts";

/** Records per `users`, `groups` or `skipped` page. */
export const FILE_PAGE_SIZE = 1000;

/** A file format the provider reads. */
export type FileFormat = "ldif" | "csv" | "json";

/** One record parsed from a file, before paging. */
type Item =
  | { kind: "user"; user: DirectoryUser }
  | { kind: "group"; group: DirectoryGroup }
  | { kind: "skipped"; entry: SkippedEntry }
  | { kind: "notice"; level: "info" | "warn"; message: string };

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
  format: Config["directory"]["file"]["format"],
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
export function createFileProvider(context: ProviderContext): DirectoryProvider {
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
  context: ProviderContext,
  options: ReadOptions,
): AsyncGenerator<DirectoryPage> {
  const config = context.config;
  const path = config.directory.file.path;
  if (path === undefined) {
    throw new ConfigError("Directory file is not configured: directory.file.path is not set", {
      hint: "Set directory.file.path to the path of an .ldif, .csv or .json export",
      details: { setting: "directory.file.path" },
    });
  }
  const format = fileFormat(path, config.directory.file.format);
  // Validate settings before touching the file.
  const ldif = format === "ldif" ? ldifRules(config) : undefined;
  const encoding = config.directory.file.encoding;
  resolveEncoding(encoding);
  if (options.mode === "incremental") {
    context.log("debug", "The file provider always reads the whole file");
  }
  const stream = utf8Stream(await openFile(path), {
    encoding,
    source: path,
    refuseReplacement: format !== "ldif",
  });
  const items = ldif !== undefined
    ? ldifItems(stream, path, ldif)
    : format === "csv"
    ? csvItems(stream, path)
    : jsonItems(stream, path);

  let users: DirectoryUser[] = [];
  let groups: DirectoryGroup[] = [];
  let skipped: SkippedEntry[] = [];
  const notices: DirectoryPage[] = [];
  let count = 0;
  try {
    for await (const item of items) {
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
          notices.push({ kind: "notice", level: item.level, message: item.message });
          break;
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

// ---------------------------------------------------------------------------------------------
// LDIF

interface LdifRules {
  settings: ReturnType<typeof ldapMappingSettings>;
  userFilter: LdapFilter;
  groupFilter: LdapFilter;
  deletedFilter: LdapFilter;
  userBase: string;
  groupBase: string;
  /** Base of AD deleted objects, or undefined to accept `CN=Deleted Objects` anywhere. */
  deletedBase: string | undefined;
  notices: Item[];
}

function checkedFilter(text: string | undefined, setting: string): void {
  if (text === undefined) return;
  validateLdapFilter(text, setting);
  const unsupported = unsupportedMatchingRules(parseLdapFilter(text));
  if (unsupported.length > 0) {
    throw new ConfigError(
      `Unsupported LDAP filter in ${setting} for a file: matching rule ${
        unsupported.join(", ")
      } needs a live directory server`,
      {
        hint: `Change ${setting}: with an LDIF file roster evaluates filters itself and supports ` +
          "equality, presence, substrings, >=, <=, ~= and the AD bitwise rules " +
          "1.2.840.113556.1.4.803/804 (LDAP_MATCHING_RULE_IN_CHAIN is not supported)",
        details: { setting, rules: unsupported },
      },
    );
  }
}

function checkedBase(base: string, settings: string): string {
  try {
    parseDn(base);
    return base;
  } catch (error) {
    const detail = error instanceof DnSyntaxError ? error.message : errorMessage(error);
    throw new ConfigError(`Invalid search base "${base}": ${detail}`, {
      hint: `Fix ${settings}: each must be a DN such as ou=People or dc=example,dc=com`,
      details: { base },
    });
  }
}

/** `CN=Deleted Objects` under the domain part of a root DN (from its first `dc=` RDN on). */
function deletedObjectsBase(rootPath: string): string {
  const rdns = normalizeRdns(rootPath);
  const first = rdns.findIndex((rdn) => rdn.split("+").some((ava) => ava.startsWith("dc=")));
  return ["cn=deleted objects", ...rdns.slice(Math.max(first, 0))].join(",");
}

function ldifRules(config: Config): LdifRules {
  const file = config.directory.file;
  const settings = ldapMappingSettings(config.sync, { ad: file.ad });
  checkedFilter(settings.userFilter, "sync.userFilter");
  checkedFilter(settings.groupFilter, "sync.groupFilter");
  const notices: Item[] = [];
  const root = file.rootPath;
  // Without a root DN, relative paths cannot be placed: only explicit paths apply, as full DNs.
  const userPath = root === undefined ? config.sync.userPath : settings.userPath;
  const groupPath = root === undefined ? config.sync.groupPath : settings.groupPath;
  if (
    root === undefined && file.ad &&
    (config.sync.userPath === undefined || config.sync.groupPath === undefined)
  ) {
    notices.push({
      kind: "notice",
      level: "info",
      message: "directory.file.rootPath is not set, so the AD default path CN=Users is not " +
        "applied: users and groups are read from the whole file",
    });
  }
  const pathSettings = root === undefined
    ? "sync.userPath and sync.groupPath"
    : "directory.file.rootPath, sync.userPath and sync.groupPath";
  if (root !== undefined) checkedBase(root, "directory.file.rootPath");
  const userBase = checkedBase(searchBase(root, userPath), pathSettings);
  const groupBase = checkedBase(searchBase(root, groupPath), pathSettings);
  return {
    settings,
    userFilter: parseLdapFilter(userSearchFilter(settings)),
    groupFilter: parseLdapFilter(groupSearchFilter(settings)),
    deletedFilter: parseLdapFilter(deletedUserSearchFilter(settings)),
    userBase,
    groupBase,
    deletedBase: root === undefined ? undefined : deletedObjectsBase(root),
    notices,
  };
}

function inDeletedObjects(entry: LdapEntry, rules: LdifRules): boolean {
  if (rules.deletedBase !== undefined) return isDnWithin(entry.dn, rules.deletedBase);
  try {
    const rdns = parseDn(entry.dn);
    return rdns.slice(1).some((rdn) =>
      rdn.length === 1 && rdn[0]?.type.toLowerCase() === "cn" &&
      rdn[0].value.toLowerCase() === "deleted objects"
    );
  } catch {
    return false;
  }
}

async function* ldifItems(
  stream: ReadableStream<Uint8Array>,
  path: string,
  rules: LdifRules,
): AsyncGenerator<Item> {
  yield* rules.notices;
  const s = rules.settings;
  const pool = new RefPool();
  const seen = new Map<string, number>();
  let users = 0;
  let usersOutside = 0;
  for await (const entry of readLdif(stream, { source: path })) {
    const key = pool.intern(normalizeDn(entry.dn));
    const first = seen.get(key);
    if (first !== undefined) {
      throw new DirectoryDataError(
        `Duplicate entry in LDIF ${path} at line ${entry.line}: ${entry.dn} already appears at ` +
          `line ${first}`,
        {
          hint: "Remove one of the two records (a directory has one entry per DN)",
          details: { path, line: entry.line, dn: entry.dn },
        },
      );
    }
    seen.set(key, entry.line);

    const deleted = s.ad && matchesFilter(rules.deletedFilter, entry);
    if (deleted) {
      // A live AD returns tombstones only from the Deleted Objects container.
      if (inDeletedObjects(entry, rules)) {
        users++;
        yield { kind: "user", user: entryToUser(entry, s, { deleted: true, pool }) };
      }
      continue;
    }
    if (matchesFilter(rules.userFilter, entry)) {
      if (isDnWithin(entry.dn, rules.userBase)) {
        users++;
        yield { kind: "user", user: entryToUser(entry, s, { pool }) };
      } else usersOutside++;
    }
    if (matchesFilter(rules.groupFilter, entry) && isDnWithin(entry.dn, rules.groupBase)) {
      const group = entryToGroup(entry, s, { pool });
      if ("memberRefs" in group) yield { kind: "group", group };
      else yield { kind: "skipped", entry: group };
    }
  }
  if (usersOutside > 0) {
    yield {
      kind: "notice",
      level: users === 0 ? "warn" : "info",
      message: `${usersOutside} user entries in ${path} are outside the user search base ` +
        `"${rules.userBase}" and were left out`,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// CSV and JSON

const BOOLEANS: Record<string, boolean> = {
  true: true,
  false: false,
  "1": true,
  "0": false,
  yes: true,
  no: false,
  "": false,
};

const CSV_COLUMNS = ["type", "id", "email", "name", "disabled", "deleted", "members"] as const;
type CsvColumn = typeof CSV_COLUMNS[number];

function isCsvColumn(name: string): name is CsvColumn {
  return (CSV_COLUMNS as readonly string[]).includes(name);
}

function dataError(message: string, hint: string, details: Record<string, unknown>): never {
  throw new DirectoryDataError(message, { hint, details });
}

/** Tracks ids across users and groups: ids share one namespace (member lists mix them). */
class IdRegistry {
  private readonly ids = new Map<string, string>();
  /** Returns where the id was first seen, or undefined (and records it). */
  claim(id: string, where: string): string | undefined {
    const first = this.ids.get(id);
    if (first !== undefined) return first;
    this.ids.set(id, where);
    return undefined;
  }
}

function userItem(id: string, email: string | null, disabled: boolean, deleted: boolean): Item {
  return {
    kind: "user",
    user: { referenceId: id, externalId: id, email, disabled, deleted, refs: [id] },
  };
}

function groupItem(id: string, name: string, members: string[]): Item {
  if (name.trim() === "") {
    return { kind: "skipped", entry: { referenceId: id, kind: "group", reason: "no group name" } };
  }
  return {
    kind: "group",
    group: {
      referenceId: id,
      externalId: id,
      name: name.trim(),
      memberRefs: [...new Set(members)],
      refs: [id],
    },
  };
}

function csvLineOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("lines" in error)) return undefined;
  return typeof error.lines === "number" ? error.lines : undefined;
}

async function* csvItems(stream: ReadableStream<Uint8Array>, path: string): AsyncGenerator<Item> {
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
      yield csvRow(row, at, ids, { path, line });
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
  at: string,
  ids: IdRegistry,
  details: Record<string, unknown>,
): Item {
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
  const first = ids.claim(id, at.replace(/^.* at /, ""));
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

const JSON_USER_KEYS = new Set(["id", "email", "name", "disabled", "deleted"]);
const JSON_GROUP_KEYS = new Set(["id", "name", "members"]);
const JSON_FIX = 'The file is {"users":[{"id","email","disabled","deleted"}],' +
  '"groups":[{"id","name","members":[ids]}]}';

function jsonId(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim() === "" ? undefined : value.trim();
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

function jsonRecord(
  section: "users" | "groups",
  index: number,
  value: unknown,
  path: string,
  ids: IdRegistry,
): Item {
  const where = `${section}[${index}]`;
  const details = { path, record: where };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    dataError(`Invalid record in ${path} at ${where}: it is not an object`, JSON_FIX, details);
  }
  const record = new Map(Object.entries(value));
  const id = jsonId(record.get("id"));
  const label = id === undefined ? where : `${where} (id "${id}")`;
  if (id === undefined) {
    dataError(
      `Invalid record in ${path} at ${where}: id is missing or empty`,
      "Give every user and group a unique id (a string)",
      details,
    );
  }
  const allowed = section === "users" ? JSON_USER_KEYS : JSON_GROUP_KEYS;
  for (const key of record.keys()) {
    if (!allowed.has(key)) {
      dataError(
        `Invalid record in ${path} at ${label}: unknown key "${key}"`,
        `Allowed keys in ${section}: ${[...allowed].join(", ")}`,
        details,
      );
    }
  }
  const first = ids.claim(id, where);
  if (first !== undefined) {
    dataError(
      `Duplicate id "${id}" in ${path} at ${where}: already used at ${first}`,
      "Ids must be unique across users and groups (groups list members by id)",
      details,
    );
  }
  if (section === "users") {
    const email = record.get("email");
    if (email !== undefined && email !== null && typeof email !== "string") {
      dataError(
        `Invalid record in ${path} at ${label}: email is not a string`,
        "Write email as a string, or null when the user has none",
        details,
      );
    }
    const bool = (key: string) => {
      const v = record.get(key);
      if (v === undefined || v === null) return false;
      if (typeof v !== "boolean") {
        dataError(
          `Invalid record in ${path} at ${label}: ${key} is ${
            JSON.stringify(v)
          }, not true or false`,
          `Write ${key} as a JSON boolean (true or false), or leave it out`,
          details,
        );
      }
      return v;
    };
    const name = record.get("name");
    if (name !== undefined && name !== null && typeof name !== "string") {
      dataError(`Invalid record in ${path} at ${label}: name is not a string`, JSON_FIX, details);
    }
    return userItem(
      id,
      typeof email === "string" && email.trim() !== "" ? email : null,
      bool("disabled"),
      bool("deleted"),
    );
  }
  const name = record.get("name");
  if (name !== undefined && name !== null && typeof name !== "string") {
    dataError(`Invalid record in ${path} at ${label}: name is not a string`, JSON_FIX, details);
  }
  const rawMembers = record.get("members") ?? [];
  if (!Array.isArray(rawMembers)) {
    dataError(
      `Invalid record in ${path} at ${label}: members is not an array`,
      'Write members as an array of user and group ids, e.g. "members": ["u1", "g2"]',
      details,
    );
  }
  const members: string[] = [];
  rawMembers.forEach((m: unknown, k: number) => {
    const member = jsonId(m);
    if (member === undefined) {
      dataError(
        `Invalid record in ${path} at ${label}: members[${k}] is not an id`,
        "Each member is the id (a non-empty string) of a user or group",
        details,
      );
    }
    members.push(member);
  });
  return groupItem(id, typeof name === "string" ? name : "", members);
}

async function* jsonItems(stream: ReadableStream<Uint8Array>, path: string): AsyncGenerator<Item> {
  const parser = new JSONParser({ paths: ["$.users.*", "$.groups.*"], keepStack: false });
  const queue: { section: "users" | "groups"; key: unknown; value: unknown }[] = [];
  parser.onValue = (info) => {
    const section = info.stack[1]?.key;
    if (info.stack.length !== 2 || (section !== "users" && section !== "groups")) return;
    queue.push({ section, key: info.key, value: info.value });
  };
  const ids = new IdRegistry();
  let sawStart = false;
  const fail = (error: unknown): never =>
    dataError(`Invalid JSON in ${path}: ${errorMessage(error)}`, JSON_FIX, { path });
  let firstChunk = true;
  for await (const raw of stream) {
    let chunk = raw;
    if (firstChunk && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
      chunk = chunk.subarray(3); // UTF-8 byte order mark
    }
    firstChunk = false;
    if (!sawStart) {
      const firstByte = chunk.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
      if (firstByte === undefined) continue;
      sawStart = true;
      if (firstByte !== 0x7b) {
        dataError(
          `Invalid JSON in ${path}: the top level is not an object`,
          `${JSON_FIX}. JSON Lines and bare arrays are not accepted`,
          { path },
        );
      }
    }
    try {
      parser.write(chunk);
    } catch (error) {
      fail(error);
    }
    for (const item of queue.splice(0)) {
      if (typeof item.key !== "number") {
        dataError(
          `Invalid JSON in ${path}: "${item.section}" is not an array`,
          JSON_FIX,
          { path },
        );
      }
      yield jsonRecord(item.section, item.key, item.value, path, ids);
    }
  }
  if (!sawStart) {
    dataError(`Invalid JSON in ${path}: the file is empty`, JSON_FIX, { path });
  }
  try {
    if (!parser.isEnded) parser.end();
  } catch (error) {
    fail(error);
  }
}
