/**
 * Noticing a dead LDAP server within seconds, on every transport (plain LDAP, StartTLS, LDAPS)
 * and at every moment of a read (connect, StartTLS, bind, a search page).
 *
 * ldapts notices a closed plain or LDAPS socket, but after StartTLS it listens only for errors
 * on the TLS socket, so a server killed mid-read went unnoticed until `directory.ldap.timeout`
 * (300 s by default) ran out, with the run's lock held; and it ignores an unsolicited Notice of
 * Disconnection (RFC 4511 §4.4.1). A {@link Liveness} watches every socket of one client itself
 * (created through ldapts' `createConnection`/`createSecureConnection` hooks):
 *
 * - **closed**: the socket ended, closed or failed, or the server sent a Notice of
 *   Disconnection: every operation in flight fails at once, and so does every later one (ldapts
 *   would otherwise reconnect transparently, unbound).
 * - **silent**: an operation is waiting and no byte arrived for the idle time, `max(connectTimeout,
 *   3 s)`. During connect, StartTLS and bind nothing else may be sent (RFC 4511 §4.2.1, §4.14.1),
 *   so the server is then given up as dead. During a search the server may just be working
 *   (a filter on an unindexed attribute sends nothing for a long time), so roster asks it a
 *   question on the same connection, the Who am I? extended operation (RFC 4532): any answer,
 *   even an error, proves it alive; no byte within another idle time means dead. A server that
 *   stops answering but keeps the socket open (stopped, hung, or a firewall dropping packets)
 *   is so noticed in at most twice the idle time.
 *
 * Either way the operation fails with {@link ConnectionDeadError}, which `errors.ts` maps to
 * `DirectoryError` before any data and `SourceIncompleteError` during a search.
 * @module
 */

import { Socket } from "node:net";
import * as tls from "node:tls";
import type { Client } from "./ldapts.ts";

/** The shortest idle time, in milliseconds, whatever `directory.ldap.connectTimeout` says. */
export const MIN_IDLE_MS = 3_000;

/** RFC 4532 "Who am I?" extended operation: the liveness question during a search. */
export const WHO_AM_I_OID = "1.3.6.1.4.1.4203.1.11.3";

/** RFC 4511 §4.4.1 Notice of Disconnection (unsolicited, message ID 0). */
export const NOTICE_OF_DISCONNECTION_OID = "1.3.6.1.4.1.1466.20036";

/** The server is gone: its connection closed, or it stopped answering. */
export class ConnectionDeadError extends Error {
  /** `closed`: the connection ended or was dropped; `silent`: no answer for `idleSeconds`. */
  readonly reason: "closed" | "silent";
  readonly idleSeconds: number;

  constructor(reason: "closed" | "silent", message: string, idleSeconds: number) {
    super(message);
    this.name = "ConnectionDeadError";
    this.reason = reason;
    this.idleSeconds = idleSeconds;
  }
}

/** The liveness of one ldapts client's connection (see the module documentation). */
export class Liveness {
  readonly idleMs: number;
  #lastData = Date.now();
  #dead: ConnectionDeadError | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #waiters = new Set<(error: ConnectionDeadError) => void>();
  #client: Client | undefined;

  /** `idleMs`: the idle time in milliseconds (raised to {@link MIN_IDLE_MS}). */
  constructor(idleMs: number) {
    this.idleMs = Math.max(idleMs, MIN_IDLE_MS);
  }

  /** The error the connection died with, if it did. */
  get dead(): ConnectionDeadError | undefined {
    return this.#dead;
  }

  /** Attaches the client, so that a search can ask the server whether it is alive. */
  attach(client: Client): void {
    this.#client = client;
  }

  /** Marks the connection dead: fails every guarded operation and drops the sockets. */
  kill(error: ConnectionDeadError): void {
    if (this.#dead !== undefined) return;
    this.#dead = error;
    for (const fail of this.#waiters) fail(error);
    this.#waiters.clear();
    for (const socket of this.#sockets) {
      socket.on("error", () => {});
      socket.destroy();
    }
  }

  /** Called for each message ldapts decodes: a Notice of Disconnection kills the connection. */
  onMessage(messageId: number, oid: string | undefined, diagnostic: string | undefined): void {
    this.#lastData = Date.now();
    if (messageId !== 0) return;
    const said = diagnostic ? `: ${diagnostic}` : "";
    const what = oid === NOTICE_OF_DISCONNECTION_OID ? "a Notice of Disconnection" : "a notice";
    this.kill(
      new ConnectionDeadError(
        "closed",
        `Connection closed by the server with ${what}${said}`,
        this.idleMs / 1000,
      ),
    );
  }

  /**
   * Watches `socket` once it is connected (`connected`: its connect event); errors before
   * that (refused, untrusted certificate) are ldapts' to report, with their own codes.
   */
  #watch(socket: Socket, connected: "connect" | "secureConnect"): void {
    this.#sockets.add(socket);
    const closed = (why: string) =>
      this.kill(
        new ConnectionDeadError(
          "closed",
          `Connection closed by the server (${why})`,
          this.idleMs / 1000,
        ),
      );
    socket.once(connected, () => {
      socket.on("data", () => {
        this.#lastData = Date.now();
      });
      socket.on("end", () => closed("end of stream"));
      socket.on("close", () => closed("socket closed"));
      socket.on("error", (error: Error) => closed(error.message));
    });
  }

  /** ldapts' `createConnection` hook: a plain TCP socket, watched. */
  readonly createConnection = (...args: unknown[]): Socket => {
    const [port, host] = args;
    if (typeof port !== "number" || typeof host !== "string") {
      throw new TypeError("ldapts called createConnection without a port and host");
    }
    const socket = new Socket();
    this.#watch(socket, "connect");
    socket.connect(port, host);
    return socket;
  };

  /** ldapts' `createSecureConnection` hook (LDAPS, and the StartTLS upgrade): watched. */
  readonly createSecureConnection = (...args: unknown[]): tls.TLSSocket => {
    let socket: tls.TLSSocket;
    const [first, second, third] = args;
    if (typeof first === "object" && first !== null) {
      // StartTLS: the plain socket is wrapped; only the TLS socket carries data from now on.
      const options: tls.ConnectionOptions = first;
      const plain = options.socket;
      if (plain instanceof Socket) plain.removeAllListeners("data");
      socket = tls.connect(options);
    } else if (typeof first === "number" && typeof second === "string") {
      const options: tls.ConnectionOptions = typeof third === "object" && third !== null
        ? third
        : {};
      socket = tls.connect(first, second, options);
    } else {
      throw new TypeError("ldapts called createSecureConnection with unexpected arguments");
    }
    this.#watch(socket, "secureConnect");
    return socket;
  };

  /**
   * Runs one operation, failing it with {@link ConnectionDeadError} as soon as the connection
   * dies or stays silent (see the module documentation). `probe`: ask the server whether it is
   * alive after the idle time (only during searches); otherwise silence is death.
   */
  async guard<T>(operation: () => Promise<T>, options: { probe: boolean }): Promise<T> {
    if (this.#dead !== undefined) throw this.#dead;
    this.#lastData = Date.now();
    let timer: ReturnType<typeof setInterval> | undefined;
    let fail: ((error: ConnectionDeadError) => void) | undefined;
    const died = new Promise<never>((_, reject) => {
      fail = reject;
      this.#waiters.add(reject);
    });
    died.catch(() => {});
    let probedAt: number | undefined;
    const seconds = this.idleMs / 1000;
    timer = setInterval(() => {
      const now = Date.now();
      if (probedAt !== undefined && this.#lastData > probedAt) probedAt = undefined;
      if (now - this.#lastData < this.idleMs) return;
      const client = this.#client;
      if (options.probe && probedAt === undefined && client !== undefined) {
        probedAt = now;
        client.exop(WHO_AM_I_OID).catch(() => {});
        return;
      }
      if (probedAt !== undefined && now - probedAt < this.idleMs) return;
      this.kill(
        new ConnectionDeadError(
          "silent",
          options.probe
            ? `No answer from the server for ${seconds * 2} s, not even to a Who am I? request`
            : `No answer from the server for ${seconds} s`,
          seconds,
        ),
      );
    }, Math.min(500, this.idleMs / 4));
    try {
      const running = operation();
      running.catch(() => {});
      return await Promise.race([running, died]);
    } finally {
      clearInterval(timer);
      timer = undefined;
      if (fail !== undefined) this.#waiters.delete(fail);
    }
  }
}
