/**
 * `deno task test`: the whole test suite, runnable on a fresh machine.
 *
 * The LDAP tests run against a real OpenLDAP `slapd` that they start themselves on 127.0.0.1.
 * When `slapd` or `ldapsearch` is missing, this installs Debian's `slapd` and `ldap-utils` with
 * apt (as root, or through sudo) before running `deno test`.
 *
 * The Active Directory tests (`tests/providers/ldap/samba_ad_test.ts`) run against a real Samba AD DC
 * on the fixed ports 389/636, so they need root. Running as root with apt, this installs Samba
 * when it is missing (about 50 s with `apt-get update`); set `ROSTER_SAMBA_INSTALL=0` to skip
 * that. Without root or Samba those tests are reported as ignored, with the reason.
 * Arguments are passed to `deno test` (e.g. `deno task test tests/engine`).
 * @module
 */

const SBIN = ["/usr/sbin", "/usr/local/sbin"];

function log(message: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`test: ${message}\n`));
}

async function found(program: string): Promise<boolean> {
  const path = (Deno.env.get("PATH") ?? "").split(":").concat(SBIN);
  for (const dir of path) {
    try {
      const info = await Deno.stat(`${dir}/${program}`);
      if (info.isFile) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

async function run(command: string[], env?: Record<string, string>): Promise<number> {
  const [program, ...args] = command;
  if (program === undefined) return 1;
  const { code } = await new Deno.Command(program, {
    args,
    stdout: "inherit",
    stderr: "inherit",
    ...(env === undefined ? {} : { env }),
  }).output();
  return code;
}

async function ensureSlapd(): Promise<void> {
  if (await found("slapd") && await found("ldapsearch")) return;
  if (!await found("apt-get")) {
    log("slapd/ldap-utils are missing and apt-get is not available: install OpenLDAP's slapd");
    return;
  }
  const sudo = Deno.uid() === 0 ? [] : ["sudo", "-n"];
  log("installing slapd and ldap-utils (needed by the LDAP integration tests)");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  if (await run([...sudo, "apt-get", "update", "-qq"], env) !== 0) log("apt-get update failed");
  if (await run([...sudo, "apt-get", "install", "-y", "-qq", "slapd", "ldap-utils"], env) !== 0) {
    log("apt-get install slapd ldap-utils failed: the LDAP tests will fail");
  }
}

/** Debian packages a Samba AD DC needs (scripts/samba.sh). */
const SAMBA_PACKAGES = [
  "samba",
  "samba-ad-dc",
  "samba-ad-provision",
  "samba-dsdb-modules",
  "python3-samba",
  "winbind",
  "ldb-tools",
];

async function ensureSamba(): Promise<void> {
  if (Deno.uid() !== 0 || Deno.env.get("ROSTER_SAMBA_INSTALL") === "0") return;
  if (await found("samba") && await found("samba-tool") && await found("ldbadd")) return;
  if (!await found("apt-get")) return;
  log("installing Samba (needed by the Active Directory tests; ROSTER_SAMBA_INSTALL=0 skips)");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const started = Date.now();
  if (await run(["apt-get", "update", "-qq"], env) !== 0) log("apt-get update failed");
  if (await run(["apt-get", "install", "-y", "-qq", ...SAMBA_PACKAGES], env) !== 0) {
    log("apt-get install samba failed: the Active Directory tests will be ignored");
    return;
  }
  log(`Samba installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await ensureSlapd();
await ensureSamba();
const path = [Deno.env.get("PATH") ?? "", ...SBIN].join(":");
const targets = Deno.args.length > 0 ? Deno.args : ["tests/"];
const code = await run(
  [Deno.execPath(), "test", "-A", "--parallel", ...targets],
  { PATH: path, TZ: "UTC" },
);
Deno.exit(code);
