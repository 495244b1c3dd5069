/**
 * The connections of one read: opened, upgraded with StartTLS when configured, and bound on
 * demand; all closed together when the read ends or is aborted. Connection and bind failures
 * are mapped to `DirectoryError`s by `errors.ts`.
 * @module
 */

import { connectError } from "./errors.ts";
import { type Client, livenessOf, newClient } from "./ldapts.ts";
import type { ReadPlan } from "./settings.ts";

/** The connections of one read. */
export class Session {
  readonly #clients = new Set<Client>();
  readonly #plan: ReadPlan;
  #closed = false;
  /** Rejects when the session is closed, so that connects in flight give up (ldapts would hang). */
  readonly #closing: Promise<never>;
  #markClosed: (reason: Error) => void = () => {};

  constructor(plan: ReadPlan) {
    this.#plan = plan;
    this.#closing = new Promise<never>((_, reject) => {
      this.#markClosed = reject;
    });
    this.#closing.catch(() => {});
  }

  /** Connects, upgrades with StartTLS when configured, and binds. */
  async open(): Promise<Client> {
    if (this.#closed) throw new Error("LDAP session already closed");
    const c = this.#plan.connection;
    const client = newClient(c);
    this.#clients.add(client);
    const liveness = livenessOf(client);
    let stage = "connect";
    try {
      if (c.mode === "starttls") {
        stage = "starttls";
        await Promise.race([
          liveness.guard(() => client.startTLS({ ...c.tls }), { probe: false }),
          this.#closing,
        ]);
      }
      stage = "bind";
      await Promise.race([
        liveness.guard(() => client.bind(c.username, c.password), { probe: false }),
        this.#closing,
      ]);
      return client;
    } catch (error) {
      await this.close(client);
      throw connectError(error, c, stage);
    }
  }

  async close(client: Client): Promise<void> {
    this.#clients.delete(client);
    const liveness = livenessOf(client);
    if (liveness.dead !== undefined) return;
    try {
      // A server that died unnoticed must not hold the read (and its lock) here either.
      await liveness.guard(() => client.unbind(), { probe: false });
    } catch {
      // The connection is being thrown away.
    }
  }

  async closeAll(): Promise<void> {
    if (!this.#closed) this.#markClosed(new Error("LDAP session closed"));
    this.#closed = true;
    await Promise.all([...this.#clients].map((client) => this.close(client)));
  }
}
