/**
 * Test helper: a throwaway OpenLDAP server made with `scripts/slapd.sh`, loaded with LDIF files
 * and optionally a generated bulk directory (`scripts/gen_ldif.ts`).
 *
 * When slapd is not installed this throws, so the test file FAILS with the install command
 * rather than passing or skipping.
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type GenerateOptions, writeLdif } from "../../../scripts/gen_ldif.ts";
import { instanceEnv, sh } from "../../../scripts/_shell.ts";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const SLAPD_SH = join(REPO, "scripts", "slapd.sh");
const MKCERTS_SH = join(REPO, "scripts", "mkcerts.sh");

/** A running slapd instance. */
export interface SlapdInstance extends AsyncDisposable {
  dir: string;
  host: string;
  /** Plain and StartTLS port. */
  port: number;
  /** LDAPS port. */
  ldapsPort: number;
  baseDn: string;
  adminDn: string;
  adminPassword: string;
  /** The non-admin, read-only account (subject to the size limit). */
  readerDn: string;
  readerPassword: string;
  sizeLimit: number;
  /** CA that signed the server certificate. */
  caFile: string;
  /** An unrelated CA (for "wrong CA" tests). */
  otherCaFile: string;
  /** Stops slapd (idempotent). */
  stop(): Promise<void>;
}

/** Options of {@link startSlapd}. */
export interface StartSlapdOptions {
  /** LDIF files to load (the suffix and ou=services already exist). */
  ldif?: string[];
  /** Also load a generated directory (`ou=people`, `ou=groups`). */
  generate?: Partial<GenerateOptions>;
  /** Size limit for non-admin unpaged searches. */
  sizeLimit?: number;
  /** Subject alternative names of the server certificate. */
  san?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir !== "" && await exists(join(dir, name))) return true;
  }
  return false;
}

/** Throws with install instructions when slapd or the OpenLDAP tools are missing. */
export async function requireSlapd(): Promise<void> {
  const missing: string[] = [];
  for (const bin of ["slapd", "slapadd", "slaptest", "slappasswd"]) {
    if (!await exists(`/usr/sbin/${bin}`) && !await onPath(bin)) missing.push(bin);
  }
  if (!await onPath("ldapsearch")) missing.push("ldapsearch");
  if (!await onPath("openssl")) missing.push("openssl");
  if (missing.length > 0) {
    throw new Error(
      `The LDAP tests need a real OpenLDAP server, and ${missing.join(", ")} ` +
        "is not installed: install it with `sudo apt-get install -y slapd ldap-utils openssl` " +
        "(CI installs it); these tests are never skipped",
    );
  }
}

/** Initialises, loads and starts a slapd instance in a new temporary directory. */
export async function startSlapd(options: StartSlapdOptions = {}): Promise<SlapdInstance> {
  await requireSlapd();
  const dir = await Deno.makeTempDir({ prefix: "roster-slapd-" });
  const sizeLimit = options.sizeLimit ?? 500;
  const env: Record<string, string> = { LDAP_SIZELIMIT: String(sizeLimit) };
  if (options.san !== undefined) env.MKCERTS_SAN = options.san;
  try {
    await sh([SLAPD_SH, "init", dir], env);
    for (const file of options.ldif ?? []) await sh([SLAPD_SH, "load", dir, file]);
    if (options.generate !== undefined) {
      const file = join(dir, "generated.ldif");
      const sink = await Deno.open(file, { write: true, create: true, truncate: true });
      try {
        await writeLdif(sink, options.generate);
      } finally {
        sink.close();
      }
      await sh([SLAPD_SH, "load", dir, file]);
    }
    await sh([SLAPD_SH, "start", dir]);
    await sh([MKCERTS_SH, join(dir, "other-ca")], { MKCERTS_CN: "unrelated test CA" });
    const get = await instanceEnv(SLAPD_SH, dir);
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await sh([SLAPD_SH, "destroy", dir]);
    };
    return {
      dir,
      host: get("LDAP_HOST"),
      port: Number(get("LDAP_PORT")),
      ldapsPort: Number(get("LDAPS_PORT")),
      baseDn: get("LDAP_BASE_DN"),
      adminDn: get("LDAP_BIND_DN"),
      adminPassword: get("LDAP_BIND_PW"),
      readerDn: get("LDAP_READER_DN"),
      readerPassword: get("LDAP_READER_PW"),
      sizeLimit,
      caFile: get("LDAPTLS_CACERT"),
      otherCaFile: join(dir, "other-ca", "ca.crt"),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await sh([SLAPD_SH, "destroy", dir]).catch(() => {});
    throw error;
  }
}

/** Synchronously stops an instance (for an `unload` handler): SIGTERM to the pid in its pidfile. */
export function killSlapdSync(dir: string): void {
  try {
    const pid = Number(Deno.readTextFileSync(join(dir, "run", "slapd.pid")).trim());
    if (pid > 0) Deno.kill(pid, "SIGTERM");
  } catch {
    // Not running.
  }
}
