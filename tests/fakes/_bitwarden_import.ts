/**
 * Request binding and validation of the fake Bitwarden import, as ASP.NET Core and the
 * organization import model do it, and Vaultwarden's strict serde binding.
 * @module
 */

/** A group of the request after binding (nulls kept: they make the server fail later). */
export interface BoundGroup {
  name: string | null;
  externalId: string | null;
  memberExternalIds: (string | null)[] | null;
}

/** A member of the request after binding. */
export interface BoundMember {
  email: string | null;
  externalId: string | null;
  deleted: boolean;
}

/** The whole request after binding. */
export interface BoundImport {
  groups: (BoundGroup | null)[] | null;
  members: (BoundMember | null)[] | null;
  overwriteExisting: boolean | null;
  largeImport: boolean;
  inviteUsersAfterProvisioning: boolean;
}

/** The outcome of binding: the model, or errors keyed as the server keys them. */
export type BindResult =
  | { ok: true; value: BoundImport; errors: Map<string, string[]> }
  | { ok: false; errors: Map<string, string[]> };

type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class JsonTypeError extends Error {
  constructor(readonly path: string, readonly target: string) {
    super(
      `The JSON value could not be converted to ${target}. Path: ${path} | LineNumber: 0 | BytePositionInLine: 0.`,
    );
  }
}

function property(object: JsonObject, name: string, caseInsensitive: boolean): unknown {
  if (name in object) return object[name];
  if (!caseInsensitive) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(object)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function permissiveString(value: unknown, path: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new JsonTypeError(path, "System.String");
}

function permissiveStrings(value: unknown, path: string): (string | null)[] | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v, i) => permissiveString(v, `${path}[${i}]`));
  if (isObject(value)) throw new JsonTypeError(path, "System.Collections.Generic.IEnumerable`1");
  return [permissiveString(value, path)];
}

function strictString(value: unknown, path: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  throw new JsonTypeError(path, "System.String");
}

function bool(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === "boolean") return value;
  throw new JsonTypeError(path, "System.Boolean");
}

function nullableBool(value: unknown, path: string): boolean | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "boolean") return value;
  throw new JsonTypeError(path, "System.Nullable`1[System.Boolean]");
}

function list<T>(
  value: unknown,
  path: string,
  item: (v: JsonObject, p: string) => T,
): (T | null)[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) {
    throw new JsonTypeError(path, "System.Collections.Generic.IEnumerable`1");
  }
  return value.map((v, i) => {
    const p = `${path}[${i}]`;
    if (v === null) return null;
    if (!isObject(v)) throw new JsonTypeError(p, "Model");
    return item(v, p);
  });
}

function add(errors: Map<string, string[]>, key: string, message: string): void {
  const list = errors.get(key) ?? [];
  list.push(message);
  errors.set(key, list);
}

/** .NET's `EmailAddressAttribute`: one `@`, not first, not last, no line breaks. */
export function isDotNetEmail(value: string): boolean {
  if (/[\r\n]/.test(value)) return false;
  const at = value.indexOf("@");
  return at > 0 && at !== value.length - 1 && at === value.lastIndexOf("@");
}

/** Binds and validates a Bitwarden import body (`text` already known non-empty). */
export function bindBitwarden(text: string): BindResult {
  const errors = new Map<string, string[]>();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    add(
      errors,
      "$",
      `${
        error instanceof Error ? error.message : String(error)
      } Path: $ | LineNumber: 0 | BytePositionInLine: 0.`,
    );
    add(errors, "", "Body is empty.");
    return { ok: false, errors };
  }
  let value: BoundImport;
  try {
    if (!isObject(json)) throw new JsonTypeError("$", "OrganizationImportRequestModel");
    value = {
      groups: list(property(json, "groups", true), "$.groups", (g, p) => ({
        name: strictString(property(g, "name", true), `${p}.name`),
        externalId: permissiveString(property(g, "externalId", true), `${p}.externalId`),
        memberExternalIds: permissiveStrings(
          property(g, "memberExternalIds", true),
          `${p}.memberExternalIds`,
        ),
      })),
      members: list(property(json, "members", true), "$.members", (m, p) => ({
        email: strictString(property(m, "email", true), `${p}.email`),
        externalId: permissiveString(property(m, "externalId", true), `${p}.externalId`),
        deleted: bool(property(m, "deleted", true), `${p}.deleted`, false),
      })),
      overwriteExisting: nullableBool(
        property(json, "overwriteExisting", true),
        "$.overwriteExisting",
      ),
      largeImport: bool(property(json, "largeImport", true), "$.largeImport", false),
      inviteUsersAfterProvisioning: nullableBool(
        property(json, "inviteUsersAfterProvisioning", true),
        "$.inviteUsersAfterProvisioning",
      ) ?? true,
    };
  } catch (error) {
    if (!(error instanceof JsonTypeError)) throw error;
    add(errors, error.path, error.message);
    add(errors, "", "Body is empty.");
    return { ok: false, errors };
  }
  const blank = (s: string | null) => s === null || s.trim() === "";
  (value.groups ?? []).forEach((group, i) => {
    if (group === null) return;
    const key = `Groups[${i}]`;
    if (blank(group.name)) add(errors, `${key}.Name`, "The Name field is required.");
    else if ((group.name ?? "").length > 100) {
      add(errors, `${key}.Name`, "The field Name must be a string with a maximum length of 100.");
    }
    if (blank(group.externalId)) {
      add(errors, `${key}.ExternalId`, "The ExternalId field is required.");
    } else if ((group.externalId ?? "").length > 300) {
      add(
        errors,
        `${key}.ExternalId`,
        "The field ExternalId must be a string with a maximum length of 300.",
      );
    }
  });
  (value.members ?? []).forEach((member, i) => {
    if (member === null) return;
    const key = `Members[${i}]`;
    let valid = true;
    if (member.email !== null) {
      if (!isDotNetEmail(member.email)) {
        add(errors, `${key}.Email`, "The Email field is not a valid e-mail address.");
        valid = false;
      }
      if (member.email.length > 256) {
        add(
          errors,
          `${key}.Email`,
          "The field Email must be a string with a maximum length of 256.",
        );
        valid = false;
      }
    }
    if (blank(member.externalId)) {
      add(errors, `${key}.ExternalId`, "The ExternalId field is required.");
      valid = false;
    } else if ((member.externalId ?? "").length > 300) {
      add(
        errors,
        `${key}.ExternalId`,
        "The field ExternalId must be a string with a maximum length of 300.",
      );
      valid = false;
    }
    // IValidatableObject runs only when the member's own properties are valid.
    if (valid && !member.deleted && blank(member.email)) {
      add(errors, `${key}.Email`, "Email is required for enabled members.");
    }
  });
  if (value.overwriteExisting === null) {
    add(errors, "OverwriteExisting", "The OverwriteExisting field is required.");
  }
  return errors.size > 0 ? { ok: false, errors } : { ok: true, value, errors };
}

/** A Vaultwarden import after binding: everything present and typed. */
export interface VaultwardenImport {
  groups: { name: string; externalId: string; memberExternalIds: string[] }[];
  members: { email: string; externalId: string; deleted: boolean }[];
  overwriteExisting: boolean;
}

/**
 * Binds a Vaultwarden import (serde, strict camelCase, no coercion). Returns the status of the
 * failure (400 malformed JSON, 422 missing field or wrong type) or the model.
 */
export function bindVaultwarden(text: string): VaultwardenImport | 400 | 422 {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 400;
  }
  if (!isObject(json)) return 422;
  const str = (v: unknown): v is string => typeof v === "string";
  const groups = json["groups"];
  const members = json["members"];
  const overwriteExisting = json["overwriteExisting"];
  if (!Array.isArray(groups) || !Array.isArray(members) || typeof overwriteExisting !== "boolean") {
    return 422;
  }
  const outGroups: VaultwardenImport["groups"] = [];
  for (const g of groups) {
    if (!isObject(g)) return 422;
    const ids = g["memberExternalIds"];
    if (!str(g["name"]) || !str(g["externalId"]) || !Array.isArray(ids) || !ids.every(str)) {
      return 422;
    }
    outGroups.push({ name: g["name"], externalId: g["externalId"], memberExternalIds: ids });
  }
  const outMembers: VaultwardenImport["members"] = [];
  for (const m of members) {
    if (!isObject(m)) return 422;
    const email = m["email"];
    const externalId = m["externalId"];
    const deleted = m["deleted"];
    if (!str(email) || !str(externalId) || typeof deleted !== "boolean") return 422;
    outMembers.push({ email, externalId, deleted });
  }
  return { groups: outGroups, members: outMembers, overwriteExisting };
}
