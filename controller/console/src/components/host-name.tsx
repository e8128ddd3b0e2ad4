import { hostLabel } from "../lib/hosts";

/** A host as an analyst knows it (its name, disambiguated); the full agent id on hover. */
export function HostName({ id, hostname, labels }: { id: string; hostname?: string | null; labels: ReadonlyMap<string, string> }) {
  return (
    <span class="host-name" title={`agent ${id}`} data-agent-id={id}>
      {hostLabel(labels, id, hostname)}
    </span>
  );
}
