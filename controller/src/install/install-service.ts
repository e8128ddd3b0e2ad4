import { AgentBinary, InstallScriptTemplate, renderInstallScript, type BinaryInfo } from "./agent-artifacts";

export interface InstallDeps {
  binary: AgentBinary;
  template: InstallScriptTemplate;
  /** VIGIL_PUBLIC_URL: the URL agents download from; otherwise the request's own origin. */
  publicUrl?: string;
  /** VIGIL_AGENT_GRPC_ADDR: the gRPC address agents connect to; otherwise the request's host and the bound gRPC port. */
  agentGrpcAddr?: string;
  grpcPort: () => number;
  /** The controller CA fingerprint for `enroll --ca-pin`; undefined when agents do not enroll (development mode). */
  caFingerprint: () => string | undefined;
}

/** What a request says about where it reached us (Host, X-Forwarded-Proto). */
export interface RequestOrigin {
  protocol: string;
  host: string | undefined;
  forwardedProto: string | undefined;
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

export class BadOrigin extends Error {}

/**
 * The agent download and the install script with this controller's addresses
 * filled in. Public on purpose: the enrollment token, not the download, is the
 * secret; the script pins the controller CA so enrollment does not trust on first use.
 */
export class InstallService {
  constructor(private readonly deps: InstallDeps) {}

  binaryInfo(): Promise<BinaryInfo> {
    return this.deps.binary.info();
  }

  openBinary() {
    return this.deps.binary.open();
  }

  script(origin: RequestOrigin): string {
    const { url, host } = this.origin(origin);
    const caPin = this.deps.caFingerprint();
    const controller = this.deps.agentGrpcAddr ?? `${host}:${this.deps.grpcPort()}`;
    return renderInstallScript(this.deps.template.text(), { url, controller, caPin: caPin ?? "", enroll: caPin !== undefined });
  }

  private origin(o: RequestOrigin): { url: string; host: string } {
    if (this.deps.publicUrl) {
      const u = new URL(this.deps.publicUrl);
      return { url: this.deps.publicUrl.replace(/\/+$/, ""), host: u.hostname };
    }
    const m = o.host ? HOST.exec(o.host) : null;
    if (!m) throw new BadOrigin("cannot tell this controller's address from the request's Host header; set VIGIL_PUBLIC_URL");
    const proto = o.forwardedProto === "https" || o.forwardedProto === "http" ? o.forwardedProto : o.protocol === "https" ? "https" : "http";
    return { url: `${proto}://${o.host}`, host: m[1] };
  }
}
