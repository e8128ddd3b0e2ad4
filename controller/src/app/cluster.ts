import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ClusterPresence } from "../agents/cluster-presence";
import { closeBus, connectBus } from "../bus/nats-connection";
import { BusNames } from "../bus/streams";
import { AgentRelay } from "../agents/agent-relay";
import type { DistributedConfig } from "../config/distributed-config";
import { ClusterNotices } from "../integrations/cluster-notices";
import { ChangeSync } from "../bus/change-sync";

/**
 * What makes replicas one controller for the people using it: presence (which replica holds
 * which agent's stream), commands relayed to that replica, and the live stream and webhook
 * destinations shared. Built before ingest (the registry reads presence) and started once the
 * registry, commands, hub and webhooks exist. Absent in single-process mode.
 */
export interface ClusterLink {
  nc: NatsConnection;
  names: BusNames;
  replicaId: string;
  presence: ClusterPresence;
  relay: AgentRelay;
  notices: ClusterNotices;
  /** Webhook destinations made or changed through another replica's API. */
  destinations: ChangeSync;
  /** A new agent policy stored through another replica's API: pushed to the agents held here. */
  policy: ChangeSync;
  /** Playbooks, rules and IOCs changed through another replica's API: reloaded here (alerts may be raised on any replica). */
  playbooks: ChangeSync;
  rules: ChangeSync;
  iocs: ChangeSync;
  /** Other replicas heard from. */
  peers(): number;
  /** Rejected messages read back from NATS, by kind (hostile or corrupt: counted, never acted on). */
  rejected(): Record<string, number>;
  stop(): Promise<void>;
}

/**
 * Its own NATS connection, apart from ingest's JetStream one: a command nudge or a presence beat
 * must not queue behind megabytes of event batches in one outbound buffer.
 */
export async function connectCluster(config: DistributedConfig, logger: Logger): Promise<ClusterLink> {
  const nc = await connectBus({ url: config.natsUrl, name: `vigil-cluster-${config.replicaId}`, log: (level, msg, fields) => logger[level](fields ?? {}, msg) });
  const names = new BusNames(config.prefix);
  const warn = (what: string) => (reason: string) => logger.warn({ reason }, `refused a ${what} message from NATS`);
  const error = (what: string) => (err: unknown) => logger.error({ err: String(err) }, `${what} failed`);
  const presence = new ClusterPresence(nc, `${names.prefix}.presence`, config.replicaId, { onRejected: warn("presence") });
  const relay = new AgentRelay(nc, names.prefix, error("relaying to an agent's replica"));
  const notices = new ClusterNotices(nc, names.prefix, config.replicaId, { onRejected: warn("notice"), onError: error("sharing a notice") });
  const destinations = new ChangeSync(nc, names.prefix, "webhooks", config.replicaId, 30_000, error("reloading webhook destinations"));
  const policy = new ChangeSync(nc, names.prefix, "policy", config.replicaId, 30_000, error("catching up with the agent policy"));
  const playbooks = new ChangeSync(nc, names.prefix, "playbooks", config.replicaId, 30_000, error("reloading playbooks"));
  // Rules recompile and IOCs rebuild their whole index on a reload: on announcements only, no periodic reload.
  const rules = new ChangeSync(nc, names.prefix, "rules", config.replicaId, 0, error("reloading rules"));
  const iocs = new ChangeSync(nc, names.prefix, "iocs", config.replicaId, 0, error("reloading IOCs"));
  const syncs = { webhook_sync: destinations, policy_sync: policy, playbook_sync: playbooks, rule_sync: rules, ioc_sync: iocs };
  logger.info({ replica: config.replicaId, prefix: names.prefix }, "distributed mode: presence, commands, live stream and webhooks shared over NATS");
  return {
    nc,
    names,
    replicaId: config.replicaId,
    presence,
    relay,
    notices,
    destinations,
    policy,
    playbooks,
    rules,
    iocs,
    peers: () => Object.keys(presence.peers()).length,
    rejected: () => ({
      presence: presence.rejected.count,
      agent_relay: relay.counts.rejected,
      notice: notices.counts.rejected,
      webhook_sync: destinations.counts.rejected,
      policy_sync: policy.counts.rejected,
    }),
    async stop() {
      presence.stop();
      relay.stop();
      notices.stop();
      for (const sync of Object.values(syncs)) sync.stop();
      await closeBus(nc);
    },
  };
}
