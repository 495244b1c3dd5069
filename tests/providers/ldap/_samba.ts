/**
 * Test helper: a throwaway Samba Active Directory DC made with `scripts/samba.sh`, provisioned
 * and loaded (offline, `ldbadd`) in a new temporary directory.
 *
 * Samba's LDAP ports are fixed (389/636), so it needs root and free ports. When it cannot run
 * here, {@link startSamba} returns the reason instead of an instance, and the caller registers
 * its tests with `ignore: true` (ignored, never passed).
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { instanceEnv, sh } from "../../../scripts/_shell.ts";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const SAMBA_SH = join(REPO, "scripts", "samba.sh");

/** A running Samba AD DC. */
export interface SambaInstance extends AsyncDisposable {
  dir: string;
  host: string;
  /** DNS form of the realm, e.g. `samdom.example.com`. */
  dnsDomain: string;
  baseDn: string;
  adminDn: string;
  adminUpn: string;
  adminPassword: string;
  caFile: string;
  /** `DIR/private/sam.ldb`, for `ldbsearch`. */
  samLdb: string;
  /** Stops samba and removes the directory (idempotent). */
  stop(): Promise<void>;
}

/** Why a Samba DC cannot run here (`scripts/samba.sh check`), or undefined when it can. */
export async function sambaUnavailable(): Promise<string | undefined> {
  const output = await new Deno.Command(SAMBA_SH, { args: ["check"], stdout: "piped" }).output();
  if (output.success) return undefined;
  return new TextDecoder().decode(output.stdout).trim() || `samba.sh check exit ${output.code}`;
}

/**
 * Provisions a domain, loads `ldif` (a function of the base DN, so entries can name it) and
 * starts the DC. Returns the reason as a string when Samba cannot run here.
 */
export async function startSamba(
  ldif: (baseDn: string) => string,
): Promise<SambaInstance | string> {
  const reason = await sambaUnavailable();
  if (reason !== undefined) return reason;
  const dir = await Deno.makeTempDir({ prefix: "roster-samba-" });
  try {
    await sh([SAMBA_SH, "init", dir]);
    const get = await instanceEnv(SAMBA_SH, dir);
    const baseDn = get("LDAP_BASE_DN");
    const file = join(dir, "seed.ldif");
    await Deno.writeTextFile(file, ldif(baseDn));
    await sh([SAMBA_SH, "load", dir, file]);
    try {
      await sh([SAMBA_SH, "start", dir]);
    } catch (error) {
      // Another DC may have taken the fixed ports since the check.
      const late = await sambaUnavailable();
      if (late !== undefined) {
        await sh([SAMBA_SH, "destroy", dir]).catch(() => {});
        return late;
      }
      throw error;
    }
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await sh([SAMBA_SH, "destroy", dir]);
    };
    return {
      dir,
      host: get("AD_HOST"),
      dnsDomain: get("AD_REALM").toLowerCase(),
      baseDn,
      adminDn: get("LDAP_BIND_DN"),
      adminUpn: get("LDAP_BIND_UPN"),
      adminPassword: get("LDAP_BIND_PW"),
      caFile: get("LDAPTLS_CACERT"),
      samLdb: get("SAM_LDB"),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await sh([SAMBA_SH, "destroy", dir]).catch(() => {});
    throw error;
  }
}

/** Synchronously stops an instance (for an `unload` handler). */
export function killSambaSync(dir: string): void {
  try {
    const pid = Number(Deno.readTextFileSync(join(dir, "run", "roster-samba.pid")).trim());
    if (pid > 0) Deno.kill(pid, "SIGTERM");
  } catch {
    // Not running.
  }
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // Already gone.
  }
}

/** An AD `unicodePwd` value for LDIF: the quoted password in UTF-16LE, base64. */
export function unicodePwd(password: string): string {
  const text = `"${password}"`;
  const bytes = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    bytes[2 * i] = code & 0xff;
    bytes[2 * i + 1] = code >> 8;
  }
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
