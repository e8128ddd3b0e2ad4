import { hostname } from "node:os";
import { formatAddr } from "../config/config";

/** What decides the addresses written into the served install script: configuration only. */
export interface OriginSettings {
  /** VIGIL_PUBLIC_URL. */
  publicUrl?: string;
  /** VIGIL_AGENT_GRPC_ADDR. */
  agentGrpcAddr?: string;
  /** The HTTP listener as configured (--http / VIGIL_HTTP_ADDR) and whether it speaks TLS. */
  httpAddr: { host: string; port: number };
  https: boolean;
  /** VIGIL_TLS_NAMES: the first one names a listener bound to every address. */
  tlsNames: string[];
}

const WILDCARD = new Set(["0.0.0.0", "::", ""]);

/**
 * The controller URL and agent gRPC address the install script is given. They come from
 * configuration, never from the request (a Host or X-Forwarded-* header is whatever the
 * client, or a man in the middle, wants it to be): VIGIL_PUBLIC_URL / VIGIL_AGENT_GRPC_ADDR
 * when set, else the listener's own address (for a wildcard bind, the first VIGIL_TLS_NAMES
 * entry or this host's name). Ports are the bound ones, so port 0 works in tests.
 */
export function installOrigin(s: OriginSettings, bound: { httpPort: number; grpcPort: number }): { url: string; controller: string } {
  let host: string;
  let url: string;
  if (s.publicUrl) {
    url = s.publicUrl.replace(/\/+$/, "");
    host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  } else {
    host = WILDCARD.has(s.httpAddr.host) ? (s.tlsNames[0] ?? hostname()) : s.httpAddr.host;
    url = `${s.https ? "https" : "http"}://${formatAddr({ host, port: bound.httpPort || s.httpAddr.port })}`;
  }
  return { url, controller: s.agentGrpcAddr ?? formatAddr({ host, port: bound.grpcPort }) };
}
