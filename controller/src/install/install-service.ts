import { isLoopbackAddress } from "./loopback";
import { type AgentBinary, type InstallScriptTemplate, renderInstallScript, type BinaryInfo } from "./agent-artifacts";
import { installOrigin, type OriginSettings } from "./install-origin";

export interface InstallDeps {
  binary: AgentBinary;
  template: InstallScriptTemplate;
  origin: OriginSettings;
  httpPort: () => number;
  grpcPort: () => number;
  /** The controller CA fingerprint for `enroll --ca-pin`; undefined when agents do not enroll (development mode). */
  caFingerprint: () => string | undefined;
  /** The HTTPS listener's key pin (curl --pinnedpubkey); undefined for a plaintext API. */
  tlsPin: () => string | undefined;
}

export class BadOrigin extends Error {}
export class NotServedHere extends Error {}

/**
 * The agent download and the install script with this controller's addresses
 * filled in. Public on purpose: the enrollment token, not the download, is the
 * secret. What the script runs is protected by the channel: it is fetched over TLS
 * checked against the listener's key pin, and it carries that pin to download the
 * binary over the same checked channel (and the CA pin for enrollment).
 */
export class InstallService {
  constructor(private readonly deps: InstallDeps) {}

  /**
   * Over plaintext HTTP (--insecure-http) nothing stops a man in the middle from swapping the
   * script or the binary, so they are served to this host only (local development and tests).
   */
  checkPeer(remoteAddress: string | undefined): void {
    if (this.deps.tlsPin() !== undefined || isLoopbackAddress(remoteAddress)) return;
    throw new NotServedHere(
      "this controller serves its API over plain HTTP (--insecure-http / VIGIL_INSECURE_HTTP): the install script and the agent binary are only served to this host. Serve HTTPS (the default) to install agents over the network.",
    );
  }

  binaryInfo(): Promise<BinaryInfo> {
    return this.deps.binary.info();
  }

  openBinary() {
    return this.deps.binary.open();
  }

  script(): string {
    const { url, controller } = this.address();
    const caPin = this.deps.caFingerprint();
    try {
      return renderInstallScript(this.deps.template.text(), { url, controller, caPin: caPin ?? "", tlsPin: this.deps.tlsPin() ?? "", enroll: caPin !== undefined });
    } catch (err) {
      if (err instanceof RangeError) throw new BadOrigin(`${err.message}: set VIGIL_PUBLIC_URL (and VIGIL_AGENT_GRPC_ADDR) to this controller's address as agents reach it`);
      throw err;
    }
  }

  private address() {
    return installOrigin(this.deps.origin, { httpPort: this.deps.httpPort(), grpcPort: this.deps.grpcPort() });
  }
}

const shArg = (v: string) => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/**
 * The install command line an admin runs on a host (printed by `install-command`, and so by `npm start`):
 * `curl … | sudo sh -s -- --token-file FILE`: the token stays in a root-only file on the host,
 * never on a command line. With a pin, -k only lets curl accept the controller's own CA:
 * --pinnedpubkey then refuses any server whose key is not the controller's, before a byte is read.
 */
export function installLine(url: string, tlsPin: string | undefined, tokenFile: string): string {
  const fetch = tlsPin ? `curl -fsSLk --pinnedpubkey ${shArg(tlsPin)} ${shArg(`${url}/install.sh`)}` : `curl -fsSL ${shArg(`${url}/install.sh`)}`;
  return `${fetch} | sudo sh -s -- --token-file ${shArg(tokenFile)}`;
}
