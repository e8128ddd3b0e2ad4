import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { VerifyOptions } from "@grpc/grpc-js";

/**
 * The TLS server name (SNI) sent when the controller is dialled by IP address. SNI may only carry a
 * host name (RFC 6066; Node warns "Setting the TLS ServerName to an IP address" for each
 * connection), and the controller does not choose its certificate by SNI, so any name does.
 */
export const IP_TARGET_SERVER_NAME = "vigil-controller";

/** "10.0.0.1:50051" → "10.0.0.1"; "[::1]:50051" → "::1"; "ctl.example:50051" → "ctl.example". */
export function targetHost(address: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(address) ?? /^([^:]+):\d+$/.exec(address);
  return m ? m[1]! : address;
}

/** gRPC channel options for this target: for an IP, a host name as SNI instead of the IP. */
export function tlsChannelOptions(address: string): Record<string, string> {
  return isIP(targetHost(address)) ? { "grpc.ssl_target_name_override": IP_TARGET_SERVER_NAME } : {};
}

/**
 * How the server's certificate is checked for this target: for an IP, against that IP (its IP SAN),
 * whatever name the SNI carried, so the override above never loosens the check.
 */
export function tlsVerifyOptions(address: string): VerifyOptions {
  const host = targetHost(address);
  if (!isIP(host)) return {};
  return { checkServerIdentity: (_sniName: string, cert: PeerCertificate) => checkServerIdentity(host, cert) };
}
