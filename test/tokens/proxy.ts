// A real HTTP proxy in front of the emulator that rewrites the body of successful v2.1 issue
// answers, for the shapes the emulator's faults do not produce (missing key_id, non-numeric
// expires_in, an HTML page). The emulator still issues the token: exactly what a garbled answer
// from LINE means.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Mutation = "none" | "missing-key_id" | "nonnumeric-expires_in" | "html";

export interface MutatingProxy {
  url: string;
  mode: Mutation;
  close(): Promise<void>;
}

function mutate(mode: Mutation, text: string): { body: string; type: string } {
  if (mode === "html") return { body: "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>", type: "text/html" };
  const o = JSON.parse(text) as Record<string, unknown>;
  if (mode === "missing-key_id") delete o["key_id"];
  if (mode === "nonnumeric-expires_in") o["expires_in"] = "2592000";
  return { body: JSON.stringify(o), type: "application/json" };
}

export async function startMutatingProxy(target: string): Promise<MutatingProxy> {
  const proxy: MutatingProxy = { url: "", mode: "none", close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "content-length") headers.set(k, v);
      const up = await fetch(target + req.url, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      let text = await up.text();
      let type = up.headers.get("content-type") ?? "application/json";
      if (proxy.mode !== "none" && req.method === "POST" && req.url === "/oauth2/v2.1/token" && up.status === 200) {
        ({ body: text, type } = mutate(proxy.mode, text));
      }
      res.writeHead(up.status, { "content-type": type, date: up.headers.get("date") ?? new Date().toUTCString() });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise<void>((r) => server.close(() => r()));
  return proxy;
}
