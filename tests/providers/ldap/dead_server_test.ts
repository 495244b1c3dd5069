/**
 * A dead slapd is noticed within seconds on every transport (plain LDAP, StartTLS, LDAPS) and
 * at every moment: killed (`kill -9`) or stopped (`SIGSTOP`: the sockets stay open and nothing
 * answers) before the connection, or in the middle of a paged read. Before any data the read
 * fails with `DirectoryError`, mid-read with `SourceIncompleteError`; never by waiting out
 * `directory.ldap.timeout` (set to 120 s here, so a wait would fail the exact messages below).
 * @module
 */

import assert from "node:assert/strict";
import { fails } from "../../_helpers.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema } from "../../../src/config/schema.ts";
import { DirectoryError, SourceIncompleteError } from "../../../src/errors.ts";
import { createLdapProvider } from "../../../src/providers/ldap/mod.ts";
import { sh } from "../../../scripts/_shell.ts";
import { killSlapdSync, startSlapd } from "./_slapd.ts";

const SLAPD_SH = fileURLToPath(new URL("../../../scripts/slapd.sh", import.meta.url));
const USERS = 300;

const slapd = await startSlapd({ generate: { users: USERS, groups: 2, seed: 3 } });
globalThis.addEventListener("unload", () => killSlapdSync(slapd.dir));
const ports = { plain: slapd.port, ldaps: slapd.ldapsPort };

function pid(): number {
  return Number(Deno.readTextFileSync(join(slapd.dir, "run", "slapd.pid")).trim());
}

function alive(process: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${process}/stat`));
  } catch {
    return false;
  }
}

async function gone(process: number): Promise<void> {
  for (let i = 0; i < 200 && alive(process); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts slapd again after a kill -9 (on new ports), once the killed one is gone. */
async function restart(): Promise<void> {
  await gone(pid());
  // A killed slapd can stay a zombie for a while, which slapd.sh would take as running.
  await Deno.remove(join(slapd.dir, "run", "slapd.pid")).catch(() => {});
  await sh([SLAPD_SH, "start", slapd.dir]);
  const env = await Deno.readTextFile(join(slapd.dir, "run", "ports.env"));
  ports.plain = Number(/LDAP_PORT=(\d+)/.exec(env)?.[1]);
  ports.ldaps = Number(/LDAPS_PORT=(\d+)/.exec(env)?.[1]);
}

type Transport = "plain" | "starttls" | "ldaps";
const TRANSPORTS: Transport[] = ["plain", "starttls", "ldaps"];

/**
 * Reads the users over `transport`, 20 a page; `afterFirstPage` runs when the first page
 * arrives. Returns the users read or throws what the read threw.
 */
async function readUsers(
  transport: Transport,
  afterFirstPage: () => void = () => {},
): Promise<number> {
  const tls = transport === "plain"
    ? {}
    : transport === "starttls"
    ? { startTls: true, tlsCaPath: slapd.caFile }
    : { ssl: true, sslCaPath: slapd.caFile };
  const config = configSchema.parse({
    directory: {
      type: "ldap",
      ldap: {
        hostname: slapd.host,
        port: transport === "ldaps" ? ports.ldaps : ports.plain,
        rootPath: slapd.baseDn,
        username: slapd.adminDn,
        pageSize: 20,
        connectTimeout: 1,
        timeout: 120,
        ...tls,
      },
    },
    sync: { userPath: "ou=people", groupPath: "ou=groups" },
  });
  const provider = createLdapProvider({
    settings: { ldap: config.directory.ldap, sync: config.sync },
    secret: () => Promise.resolve(slapd.adminPassword),
    log: () => {},
  });
  let users = 0;
  for await (const page of provider.read({ users: true, groups: false, mode: "full" })) {
    if (page.kind !== "users") continue;
    if (users === 0) afterFirstPage();
    users += page.users.length;
  }
  return users;
}

const HEAD = `LDAP users search under ou=people,${slapd.baseDn} was incomplete`;

for (const transport of TRANSPORTS) {
  Deno.test(`ldap read() over ${transport} reads every user from a live slapd`, async () => {
    assert.equal(await readUsers(transport), USERS);
  });

  Deno.test(`ldap read() over ${transport} throws SourceIncompleteError at once when slapd is killed mid-read`, async () => {
    try {
      const error = await fails(
        readUsers(transport, () => Deno.kill(pid(), "SIGKILL")),
        SourceIncompleteError,
      );
      assert.match(
        error.message,
        new RegExp(`^${HEAD}: the connection was lost after \\d+ entries$`),
      );
    } finally {
      await restart();
    }
  });

  Deno.test(`ldap read() over ${transport} throws DirectoryError when slapd is down before the read`, async () => {
    const killed = pid();
    Deno.kill(killed, "SIGKILL");
    await gone(killed);
    try {
      const error = await fails(readUsers(transport), DirectoryError);
      // Refused, or (rarely, on a busy machine) accepted by the dying listener and dropped
      // during the TLS handshake or bind: both are exit 6 naming the server, at once.
      const where = `127\\.0\\.0\\.1:${transport === "ldaps" ? ports.ldaps : ports.plain}`;
      if (error.code === "ldap_unreachable") {
        assert.match(error.message, /: connection refused$/);
      } else {
        assert.ok(
          ["ldap_connection_lost", "ldap_tls_handshake"].includes(error.code),
          `${error.code}: ${error.message}`,
        );
        assert.match(error.message, new RegExp(where));
      }
    } finally {
      await restart();
    }
  });

  Deno.test(`ldap read() over ${transport} throws SourceIncompleteError when slapd stops answering mid-read`, async () => {
    const stopped = pid();
    try {
      const error = await fails(
        readUsers(transport, () => Deno.kill(stopped, "SIGSTOP")),
        SourceIncompleteError,
      );
      assert.match(
        error.message,
        new RegExp(`^${HEAD}: the server stopped answering after \\d+ entries$`),
      );
    } finally {
      Deno.kill(stopped, "SIGCONT");
    }
  });

  Deno.test(`ldap read() over ${transport} throws DirectoryError when slapd answers nothing from the start`, async () => {
    const stopped = pid();
    Deno.kill(stopped, "SIGSTOP");
    try {
      const error = await fails(readUsers(transport), DirectoryError);
      if (transport === "ldaps") {
        // The TLS handshake is part of connecting: directory.ldap.connectTimeout applies.
        assert.equal(error.code, "ldap_unreachable");
        assert.match(error.message, /: no answer within 1 s$/);
      } else {
        assert.equal(error.code, "ldap_connection_lost");
        const stage = transport === "plain" ? "bind" : "starttls";
        assert.match(
          error.message,
          new RegExp(`stopped answering during ${stage}: No answer from the server for 3 s$`),
        );
      }
    } finally {
      Deno.kill(stopped, "SIGCONT");
    }
  });
}

Deno.test("ldap dead-server slapd stops", async () => {
  await slapd.stop();
});
