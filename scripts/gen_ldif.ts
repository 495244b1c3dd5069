/**
 * Deterministic generator of large LDIF directories for tests and benchmarks.
 *
 * ```sh
 * deno run -A scripts/gen_ldif.ts --users 10000 --groups 1000 --nested-pct 10 --seed 42 \
 *   --flavor openldap --member-attr member --memberof --out /tmp/u10k.ldif
 * scripts/slapd.sh load /tmp/ol /tmp/u10k.ldif
 * ```
 *
 * The same arguments always give the same bytes (a seeded mulberry32 generator, no clock).
 *
 * - `openldap` flavour: `ou=people` (inetOrgPerson + posixAccount users `uid=userNNNNNN`) and
 *   `ou=groups` under `--base`. The suffix entry itself and `ou=services` are made by
 *   `scripts/slapd.sh init`; pass `--with-base` to write the suffix entry too (for LDIF files read
 *   by the `file` provider). Groups follow `--member-attr`: `member` (groupOfNames), `uniqueMember`
 *   (groupOfUniqueNames) or `memberUid` (posixGroup: user members by uid, nested groups by DN).
 *   `--memberof` writes `memberOf` on members (slapadd does not run the memberof overlay).
 * - `ad` flavour: `OU=TestUsers` / `OU=TestGroups` with `user` and `group` objects,
 *   sAMAccountName, userPrincipalName and userAccountControl 512 / 514 (disabled); groups are
 *   written highest-numbered first because AD checks that member DNs exist. No cycle is written
 *   (AD cannot add one in a single pass).
 *
 * Data shape: about 7% of users have no mail, about 5% are disabled (`employeeType: disabled` or
 * UAC 514), about 3% have non-ASCII names (base64 values). Group 1 (`everyone`, unless
 * `--no-everyone`) holds every user; every user joins 0–4 random groups; `--nested-pct` percent of
 * groups hold 1–3 higher-numbered groups (chains), and groups 2 and 3 hold each other (a cycle,
 * openldap flavour, when there are at least 3 groups and nesting is on). About 2% of groups are
 * empty (`member: cn=nobody`, the refint placeholder, for the DN-valued layouts).
 * @module
 */

import { createHash } from "node:crypto";

/** Options of {@link generateLdif}. */
export interface GenerateOptions {
  /** Number of users. */
  users: number;
  /** Number of groups (including `everyone`). */
  groups: number;
  /** Percentage of groups that contain other groups. */
  nestedPct: number;
  /** PRNG seed. */
  seed: number;
  /** Directory flavour. */
  flavor: "openldap" | "ad";
  /** Group membership attribute (openldap flavour). */
  memberAttr: "member" | "uniqueMember" | "memberUid";
  /** Base DN. */
  base: string;
  /** Write `memberOf` values on members (openldap flavour, `member` layout). */
  memberOf: boolean;
  /** Make group 1 `everyone`, holding every user. */
  everyone: boolean;
  /** Write the suffix entry. */
  withBase: boolean;
  /** The first N users get `userPassword: Password1!`. */
  passwords: number;
}

/** Default options. */
export const DEFAULT_OPTIONS: GenerateOptions = {
  users: 1000,
  groups: 100,
  nestedPct: 10,
  seed: 1,
  flavor: "openldap",
  memberAttr: "member",
  base: "dc=example,dc=com",
  memberOf: false,
  everyone: true,
  withBase: false,
  passwords: 10,
};

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ["Anna", "Ben", "Carla", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas"];
const LAST = ["Adams", "Becker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito"];
const FIRST_U = ["Zoë", "Jürgen", "Søren", "Ana María", "Łukasz", "Çağla"];
const LAST_U = ["Müller", "Öztürk", "Ødegård", "Núñez", "Dvořák", "Straße"];

const encoder = new TextEncoder();
/** Whether a value is an RFC 2849 SAFE-STRING (ASCII, no NUL/CR/LF, safe first character). */
function isSafeString(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13 || c > 127) return false;
    if (i === 0 && (c === 32 || c === 58 || c === 60)) return false;
  }
  return !value.endsWith(" ");
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** One LDIF attribute line; values that are not RFC 2849 SAFE-STRINGs are base64. */
export function ldifLine(attribute: string, value: string): string {
  if (value === "") return `${attribute}:\n`;
  if (isSafeString(value)) return `${attribute}: ${value}\n`;
  return `${attribute}:: ${base64(encoder.encode(value))}\n`;
}

function ssha(password: string, random: () => number): string {
  const salt = new Uint8Array(4).map(() => Math.floor(random() * 256));
  const digest = createHash("sha1").update(password).update(salt).digest();
  const all = new Uint8Array(digest.length + salt.length);
  all.set(digest);
  all.set(salt, digest.length);
  return `{SSHA}${base64(all)}`;
}

/** Counts reported by {@link generateLdif} when it is done. */
export interface GenerateSummary {
  users: number;
  groups: number;
  memberValues: number;
  emptyGroups: number;
}

/**
 * Yields the LDIF of a generated directory, one entry (with its trailing blank line) at a time,
 * and returns counts.
 */
export function* generateLdif(
  partial: Partial<GenerateOptions> = {},
): Generator<string, GenerateSummary> {
  const o: GenerateOptions = { ...DEFAULT_OPTIONS, ...partial };
  if (partial.base === undefined && o.flavor === "ad") o.base = "DC=samdom,DC=example,DC=com";
  const random = mulberry32(o.seed);
  const ad = o.flavor === "ad";
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  const people = ad ? `OU=TestUsers,${o.base}` : `ou=people,${o.base}`;
  const groupsOu = ad ? `OU=TestGroups,${o.base}` : `ou=groups,${o.base}`;
  const uid = (u: number) => `user${pad(u, 6)}`;
  const userDn = (u: number) => `${ad ? "CN" : "uid"}=${uid(u)},${people}`;
  const groupName = (g: number) => g === 1 && o.everyone ? "everyone" : `group${pad(g, 5)}`;
  const groupDn = (g: number) => `${ad ? "CN" : "cn"}=${groupName(g)},${groupsOu}`;
  const U = o.users;
  const G = o.groups;

  // Memberships first (memberOf needs them). Positive: user index, negative: group index.
  const members: number[][] = Array.from({ length: G + 1 }, () => []);
  const empty = new Uint8Array(G + 1);
  for (let g = 1; g <= G; g++) if (!(g === 1 && o.everyone) && random() < 0.02) empty[g] = 1;
  const firstRandom = o.everyone ? 2 : 1;
  for (let u = 1; u <= U; u++) {
    if (o.everyone && G >= 1) members[1]!.push(u);
    if (G >= firstRandom) {
      const k = Math.floor(random() * 5);
      for (let j = 0; j < k; j++) {
        const g = firstRandom + Math.floor(random() * (G - firstRandom + 1));
        if (!empty[g]) members[g]!.push(u);
      }
    }
  }
  for (let g = firstRandom; g < G; g++) {
    if (empty[g] || random() >= o.nestedPct / 100) continue;
    const k = 1 + Math.floor(random() * 3);
    for (let j = 0; j < k; j++) {
      const child = g + 1 + Math.floor(random() * (G - g));
      if (!empty[child]) members[g]!.push(-child);
    }
  }
  if (!ad && o.nestedPct > 0 && G >= 3) {
    for (const [parent, child] of [[2, 3], [3, 2]] as const) {
      empty[parent] = 0;
      members[parent]!.push(-child);
    }
  }
  const memberOf = new Map<string, number[]>();
  let memberValues = 0;
  for (let g = 1; g <= G; g++) {
    members[g] = [...new Set(members[g])];
    memberValues += members[g]!.length;
    if (o.memberOf && !ad && o.memberAttr === "member") {
      for (const m of members[g]!) {
        const key = m > 0 ? `u${m}` : `g${-m}`;
        const list = memberOf.get(key);
        if (list) list.push(g);
        else memberOf.set(key, [g]);
      }
    }
  }

  if (ad) {
    yield `dn: ${people}\nobjectClass: organizationalUnit\nou: TestUsers\n\n`;
    yield `dn: ${groupsOu}\nobjectClass: organizationalUnit\nou: TestGroups\n\n`;
  } else {
    if (o.withBase) {
      const dc = /^dc=([^,]+)/i.exec(o.base)?.[1] ?? "example";
      yield `dn: ${o.base}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n` +
        `o: ${dc}\ndc: ${dc}\n\n`;
    }
    for (const ou of ["people", "groups"]) {
      yield `dn: ou=${ou},${o.base}\nobjectClass: organizationalUnit\nou: ${ou}\n\n`;
    }
  }

  const domain = ad
    ? o.base.replace(/DC=/gi, "").split(",").join(".").toLowerCase()
    : "example.com";
  for (let u = 1; u <= U; u++) {
    const unicode = random() < 0.03;
    const given = unicode
      ? FIRST_U[Math.floor(random() * FIRST_U.length)]!
      : FIRST[Math.floor(random() * FIRST.length)]!;
    const sn = unicode
      ? LAST_U[Math.floor(random() * LAST_U.length)]!
      : LAST[Math.floor(random() * LAST.length)]!;
    const hasMail = random() >= 0.07;
    const disabled = random() < 0.05;
    const id = uid(u);
    let s = `dn: ${userDn(u)}\n`;
    if (ad) {
      s += "objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n" +
        "objectClass: user\n";
      s += `cn: ${id}\n` + ldifLine("givenName", given) + ldifLine("sn", sn) +
        ldifLine("displayName", `${given} ${sn}`);
      s += `sAMAccountName: ${id}\nuserPrincipalName: ${id}@${domain}\n`;
      s += `userAccountControl: ${disabled ? 514 : 512}\n`;
      if (hasMail) s += `mail: ${id}@${domain}\n`;
      s += `employeeID: E${pad(u, 7)}\n`;
    } else {
      s += "objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n" +
        "objectClass: inetOrgPerson\nobjectClass: posixAccount\nobjectClass: shadowAccount\n";
      s += `uid: ${id}\n` + ldifLine("cn", `${given} ${sn}`) + ldifLine("givenName", given) +
        ldifLine("sn", sn);
      if (hasMail) s += `mail: ${id}@example.com\n`;
      s += `employeeNumber: ${u}\nuidNumber: ${10000 + u}\ngidNumber: 10000\n` +
        `homeDirectory: /home/${id}\nloginShell: /bin/bash\n`;
      if (disabled) s += "employeeType: disabled\nshadowExpire: 1\n";
      if (u <= o.passwords) s += `userPassword: ${ssha("Password1!", random)}\n`;
      for (const g of memberOf.get(`u${u}`) ?? []) s += `memberOf: ${groupDn(g)}\n`;
    }
    yield s + "\n";
  }

  const attr = ad ? "member" : o.memberAttr;
  for (let k = 1; k <= G; k++) {
    const g = ad ? G + 1 - k : k;
    const name = groupName(g);
    let s = `dn: ${groupDn(g)}\n`;
    if (ad) {
      s += `objectClass: top\nobjectClass: group\ncn: ${name}\nsAMAccountName: ${name}\n`;
    } else if (attr === "member") {
      s += `objectClass: top\nobjectClass: groupOfNames\ncn: ${name}\n`;
    } else if (attr === "uniqueMember") {
      s += `objectClass: top\nobjectClass: groupOfUniqueNames\ncn: ${name}\n`;
    } else {
      s += `objectClass: top\nobjectClass: posixGroup\ncn: ${name}\ngidNumber: ${20000 + g}\n`;
    }
    s += `description: generated test group ${g}\n`;
    for (const p of memberOf.get(`g${g}`) ?? []) s += `memberOf: ${groupDn(p)}\n`;
    const list = members[g]!;
    if (list.length === 0 && !ad && attr !== "memberUid") s += `${attr}: cn=nobody\n`;
    for (const m of list) {
      const value = m < 0 ? groupDn(-m) : attr === "memberUid" ? uid(m) : userDn(m);
      s += `${attr}: ${value}\n`;
    }
    yield s + "\n";
  }
  return { users: U, groups: G, memberValues, emptyGroups: empty.reduce((a, b) => a + b, 0) };
}

const USAGE = `usage: deno run -A scripts/gen_ldif.ts [--users N] [--groups M] [--nested-pct P]
  [--seed S] [--flavor openldap|ad] [--member-attr member|uniqueMember|memberUid]
  [--base DN] [--memberof] [--no-everyone] [--with-base] [--passwords N] [--out FILE]`;

function parseArgs(args: string[]): { options: Partial<GenerateOptions>; out: string } {
  const options: Partial<GenerateOptions> = {};
  let out = "-";
  const number = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 0) {
      throw new Error(`${name} needs a whole number, got ${value ?? "nothing"}`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const next = () => args[++i];
    switch (arg) {
      case "--users":
        options.users = number(arg, next());
        break;
      case "--groups":
        options.groups = number(arg, next());
        break;
      case "--nested-pct":
        options.nestedPct = number(arg, next());
        break;
      case "--seed":
        options.seed = number(arg, next());
        break;
      case "--passwords":
        options.passwords = number(arg, next());
        break;
      case "--flavor": {
        const value = next();
        if (value !== "openldap" && value !== "ad") throw new Error("--flavor is openldap or ad");
        options.flavor = value;
        break;
      }
      case "--member-attr": {
        const value = next();
        if (value !== "member" && value !== "uniqueMember" && value !== "memberUid") {
          throw new Error("--member-attr is member, uniqueMember or memberUid");
        }
        options.memberAttr = value;
        break;
      }
      case "--base": {
        const value = next();
        if (!value) throw new Error("--base needs a DN");
        options.base = value;
        break;
      }
      case "--memberof":
        options.memberOf = true;
        break;
      case "--no-everyone":
        options.everyone = false;
        break;
      case "--with-base":
        options.withBase = true;
        break;
      case "--out":
        out = next() ?? "-";
        break;
      default:
        throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  return { options, out };
}

async function main(): Promise<void> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    await Deno.stdout.write(encoder.encode(USAGE + "\n"));
    return;
  }
  const { options, out } = parseArgs(Deno.args);
  const file = out === "-"
    ? null
    : await Deno.open(out, { write: true, create: true, truncate: true });
  const { summary: s } = await writeLdif(file ?? Deno.stdout, options);
  file?.close();
  await Deno.stderr.write(
    encoder.encode(
      `wrote ${s.users} users, ${s.groups} groups, ${s.memberValues} member values ` +
        `(${s.emptyGroups} empty groups)\n`,
    ),
  );
}

async function writeAll(sink: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  let offset = 0;
  while (offset < data.length) offset += await sink.write(data.subarray(offset));
}

/**
 * Writes a generated directory to `sink` in pieces of about a MiB (never the whole text at
 * once) and returns the bytes written and the generator's summary.
 */
export async function writeLdif(
  sink: { write(p: Uint8Array): Promise<number> },
  options: Partial<GenerateOptions> = {},
): Promise<{ bytes: number; summary: GenerateSummary }> {
  let bytes = 0;
  let buffer = "";
  const flush = async () => {
    const data = encoder.encode(buffer);
    bytes += data.byteLength;
    await writeAll(sink, data);
    buffer = "";
  };
  const generator = generateLdif(options);
  let step = generator.next();
  while (!step.done) {
    buffer += step.value;
    if (buffer.length > 1 << 20) await flush();
    step = generator.next();
  }
  await flush();
  return { bytes, summary: step.value };
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    await Deno.stderr.write(
      encoder.encode(`gen_ldif: ${error instanceof Error ? error.message : String(error)}\n`),
    );
    Deno.exit(2);
  }
}
