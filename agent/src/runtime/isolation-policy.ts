import type { AgentConfig } from "../config/config";
import type { IsolationPolicy } from "../enforcement";
import type { ControllerEndpoints } from "./controller-endpoints";

/** What stays reachable while isolated: the controller, the admin allowlist, DNS/DHCP only if configured. */
export function isolationPolicyFor(cfg: AgentConfig, endpoints: ControllerEndpoints): IsolationPolicy {
  return { controller: { addresses: endpoints.list(), port: endpoints.port }, allowCidrs: cfg.isolationAllow, dnsServers: cfg.isolationDns, allowDhcp: cfg.isolationDhcp };
}
