/**
 * A TCP (or TLS) front for a fake HTTP server, so that a fake can drop a connection without
 * answering: `Deno.serve` has no way to do that from a handler.
 *
 * The front accepts connections and pipes each one to an inner `Deno.serve` on 127.0.0.1. The
 * inner handler sees the front's outgoing port as `info.remoteAddr.port`; passing it to
 * {@link Front.reset} closes both sides, which the client sees as a connection closed before
 * the response.
 * @module
 */

/** A running front. */
export interface Front {
  /** The port clients connect to. */
  readonly port: number;
  /** Closes the client connection whose inner request came from `innerPort`. */
  reset(innerPort: number): boolean;
  /** True when `innerPort` is one of this front's upstream connections. */
  owns(innerPort: number): boolean;
  /** Stops accepting and closes every connection. */
  close(): Promise<void>;
}

/** TLS material for a front: PEM certificate chain and key. */
export interface FrontTls {
  cert: string;
  key: string;
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // already closed
  }
}

/** Starts a front on 127.0.0.1 (port 0 unless given) that forwards to `innerPort`. */
export function startFront(options: { innerPort: number; tls?: FrontTls; port?: number }): Front {
  const listener: Deno.Listener = options.tls === undefined
    ? Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 })
    : Deno.listenTls({
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      cert: options.tls.cert,
      key: options.tls.key,
    });
  const pairs = new Map<number, { client: Deno.Conn; upstream: Deno.Conn }>();
  const tasks = new Set<Promise<void>>();
  let closed = false;

  const track = (task: Promise<void>) => {
    tasks.add(task);
    task.finally(() => tasks.delete(task));
  };

  const serveConnection = async (client: Deno.Conn): Promise<void> => {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: options.innerPort });
    } catch {
      closeQuietly(client);
      return;
    }
    const innerPort = upstream.localAddr.transport === "tcp" ? upstream.localAddr.port : -1;
    pairs.set(innerPort, { client, upstream });
    const finish = () => {
      pairs.delete(innerPort);
      closeQuietly(client);
      closeQuietly(upstream);
    };
    await Promise.allSettled([
      client.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(client.writable),
    ]);
    finish();
  };

  const accept = async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      if (closed) {
        closeQuietly(conn);
        return;
      }
      track(serveConnection(conn));
    }
  };
  const acceptTask = accept();
  const address = listener.addr;

  return {
    port: address.transport === "tcp" ? address.port : 0,
    reset(innerPort: number): boolean {
      const pair = pairs.get(innerPort);
      if (pair === undefined) return false;
      pairs.delete(innerPort);
      closeQuietly(pair.client);
      closeQuietly(pair.upstream);
      return true;
    },
    owns(innerPort: number): boolean {
      return pairs.has(innerPort);
    },
    async close(): Promise<void> {
      closed = true;
      closeQuietly(listener);
      for (const pair of pairs.values()) {
        closeQuietly(pair.client);
        closeQuietly(pair.upstream);
      }
      pairs.clear();
      await acceptTask;
      await Promise.allSettled([...tasks]);
    },
  };
}

/**
 * Makes a self-signed certificate (RSA 2048, 2 days, `CN=<name>`) and its unencrypted key with
 * openssl, as `<dir>/<name>.crt` and `<dir>/<name>.key`; returns both PEM texts.
 */
export async function makeCertificate(
  dir: string,
  name: string,
): Promise<{ cert: string; key: string }> {
  const result = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      `${dir}/${name}.key`,
      "-out",
      `${dir}/${name}.crt`,
    ],
    stderr: "null",
    stdout: "null",
  }).output();
  if (result.code !== 0) throw new Error(`openssl req exited ${result.code}`);
  return {
    cert: await Deno.readTextFile(`${dir}/${name}.crt`),
    key: await Deno.readTextFile(`${dir}/${name}.key`),
  };
}
