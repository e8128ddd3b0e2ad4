import type { Provider } from "@nestjs/common";
import type { ControllerConfig } from "../config/config";
import { AgentBinary, defaultAgentBinary, defaultInstallScript, InstallScriptTemplate } from "./agent-artifacts";
import { InstallService } from "./install-service";

/** Composition for bootstrap: the install script and binary download (issue 7, admins; issue 10, pinned). */
export function createInstall(
  config: ControllerConfig,
  ports: { http: () => number; grpc: () => number },
  ca: { fingerprint: string },
  tlsPin: () => string | undefined,
): { service: InstallService; providers: Provider[] } {
  const service = new InstallService({
    binary: new AgentBinary(defaultAgentBinary(config.agentBinary)),
    template: new InstallScriptTemplate(defaultInstallScript()),
    origin: { publicUrl: config.publicUrl, agentGrpcAddr: config.agentGrpcAddr, httpAddr: config.httpAddr, https: config.httpTls.mode !== "off", tlsNames: config.tlsNames },
    httpPort: ports.http,
    grpcPort: ports.grpc,
    // A development controller (plaintext gRPC) has no enrollment: the script then skips it.
    caFingerprint: () => (config.insecureGrpc ? undefined : ca.fingerprint),
    tlsPin,
  });
  return { service, providers: [{ provide: InstallService, useValue: service }] };
}
