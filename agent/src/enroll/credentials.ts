import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { tlsVerifyOptions } from "../transport/tls-target";
import { loadTlsIdentity } from "./tls-files";

/**
 * Channel credentials read from the state dir on every (re)connect, so a
 * renewed certificate is picked up without restarting the agent. The server
 * is verified against the pinned controller CA only, not the system roots.
 */
export function tlsCredentialsFactory(stateDir: string): (address?: string) => ChannelCredentials {
  return (address) => {
    const id = loadTlsIdentity(stateDir);
    return credentials.createSsl(Buffer.from(id.caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem), address ? tlsVerifyOptions(address) : undefined);
  };
}
