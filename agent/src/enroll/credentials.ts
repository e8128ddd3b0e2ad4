import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { loadTlsIdentity } from "./tls-files";

/**
 * Channel credentials read from the state dir on every (re)connect, so a
 * renewed certificate is picked up without restarting the agent. The server
 * is verified against the pinned controller CA only, not the system roots.
 */
export function tlsCredentialsFactory(stateDir: string): () => ChannelCredentials {
  return () => {
    const id = loadTlsIdentity(stateDir);
    return credentials.createSsl(Buffer.from(id.caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem));
  };
}

