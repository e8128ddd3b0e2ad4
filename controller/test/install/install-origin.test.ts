import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config";
import { renderInstallScript } from "../../src/install/agent-artifacts";
import { installOrigin, type OriginSettings } from "../../src/install/install-origin";
import { installLine } from "../../src/install/install-service";

const base: OriginSettings = { httpAddr: { host: "10.0.0.5", port: 8080 }, https: true, tlsNames: [] };
const bound = { httpPort: 8080, grpcPort: 50051 };

describe("where the install script says the controller is: configuration only", () => {
  it("VIGIL_PUBLIC_URL and VIGIL_AGENT_GRPC_ADDR win; the gRPC host follows the public URL otherwise", () => {
    expect(installOrigin({ ...base, publicUrl: "https://vigil.example.com:8443/" }, bound)).toEqual({ url: "https://vigil.example.com:8443", controller: "vigil.example.com:50051" });
    expect(installOrigin({ ...base, publicUrl: "https://vigil.example.com", agentGrpcAddr: "grpc.example.com:443" }, bound)).toEqual({
      url: "https://vigil.example.com",
      controller: "grpc.example.com:443",
    });
    expect(installOrigin({ ...base, publicUrl: "https://[2001:db8::1]:8443" }, bound)).toEqual({ url: "https://[2001:db8::1]:8443", controller: "[2001:db8::1]:50051" });
  });

  it("otherwise the listener's own address, its bound port, and its scheme", () => {
    expect(installOrigin(base, bound)).toEqual({ url: "https://10.0.0.5:8080", controller: "10.0.0.5:50051" });
    expect(installOrigin({ ...base, https: false, httpAddr: { host: "127.0.0.1", port: 0 } }, { httpPort: 41234, grpcPort: 1 })).toEqual({ url: "http://127.0.0.1:41234", controller: "127.0.0.1:1" });
    // A wildcard bind names no address: the first TLS name, else this host's name.
    expect(installOrigin({ ...base, httpAddr: { host: "0.0.0.0", port: 8080 }, tlsNames: ["vigil.corp", "10.1.1.1"] }, bound).url).toBe("https://vigil.corp:8080");
    expect(installOrigin({ ...base, httpAddr: { host: "0.0.0.0", port: 8080 } }, bound).url).toBe(`https://${hostname()}:8080`);
  });

  it("a value that could be shell code never reaches the script", () => {
    const template = "VIGIL_URL_DEFAULT=''\nVIGIL_CONTROLLER_DEFAULT=''\nVIGIL_CA_PIN_DEFAULT=''\nVIGIL_TLS_PIN_DEFAULT=''\nVIGIL_ENROLL_DEFAULT='yes'\n";
    const ok = { url: "https://a.example", controller: "a.example:1", caPin: "ab", tlsPin: `sha256//${"A".repeat(43)}=`, enroll: true };
    expect(renderInstallScript(template, ok)).toContain(`VIGIL_TLS_PIN_DEFAULT='sha256//${"A".repeat(43)}='`);
    for (const bad of [{ url: "https://a.example/'$(id)'" }, { controller: "a;reboot:1" }, { tlsPin: "sha256//x';id;'" }, { caPin: "$(id)" }]) {
      expect(() => renderInstallScript(template, { ...ok, ...bad })).toThrow(RangeError);
    }
  });

  it("the printed install line quotes what needs quoting and reads the token from a file", () => {
    expect(installLine("https://v.example:8080", "sha256//abc+/=", "/root/vigil token")).toBe(
      "curl -fsSLk --pinnedpubkey sha256//abc+/= https://v.example:8080/install.sh | sudo sh -s -- --token-file '/root/vigil token'",
    );
    expect(installLine("https://v.example", undefined, "/root/t")).toBe("curl -fsSL https://v.example/install.sh | sudo sh -s -- --token-file /root/t");
  });

  it("configuration: HTTPS unless asked otherwise, and no plaintext public URL in front of it", () => {
    const env = { VIGIL_DATA_DIR: "/nonexistent-vigil" };
    expect(loadConfig({}, env).httpTls).toEqual({ mode: "ca" });
    expect(loadConfig({ insecureHttp: true }, env).httpTls).toEqual({ mode: "off" });
    expect(loadConfig({}, { ...env, VIGIL_INSECURE_HTTP: "1" }).httpTls).toEqual({ mode: "off" });
    expect(loadConfig({}, { ...env, VIGIL_HTTP_TLS_CERT: "/c.pem", VIGIL_HTTP_TLS_KEY: "/k.pem" }).httpTls).toEqual({ mode: "files", certFile: "/c.pem", keyFile: "/k.pem" });
    expect(() => loadConfig({}, { ...env, VIGIL_HTTP_TLS_CERT: "/c.pem" })).toThrow(ConfigError);
    expect(() => loadConfig({}, { ...env, VIGIL_PUBLIC_URL: "http://vigil.example" })).toThrow(/use https:\/\//);
    expect(loadConfig({ insecureHttp: true }, { ...env, VIGIL_PUBLIC_URL: "http://vigil.example" }).publicUrl).toBe("http://vigil.example");
  });
});
