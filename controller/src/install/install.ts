import type { Provider } from "@nestjs/common";
import type { ControllerConfig } from "../config/config";
import { AgentBinary, defaultAgentBinary, defaultInstallScript, InstallScriptTemplate } from "./agent-artifacts";
import { InstallService } from "./install-service";

/** Composition for bootstrap: the install script and binary download (issue 7, admins). */
export function createInstall(config: ControllerConfig, grpc: { boundPort: number }, ca: { fingerprint: string }): { service: InstallService; providers: Provider[] } {
  const service = new InstallService({
    binary: new AgentBinary(defaultAgentBinary(config.agentBinary)),
    template: new InstallScriptTemplate(defaultInstallScript()),
    publicUrl: config.publicUrl,
    agentGrpcAddr: config.agentGrpcAddr,
    grpcPort: () => grpc.boundPort || config.grpcAddr.port,
    // A development controller (plaintext gRPC) has no enrollment: the script then skips it.
    caFingerprint: () => (config.insecureGrpc ? undefined : ca.fingerprint),
  });
  return { service, providers: [{ provide: InstallService, useValue: service }] };
}
