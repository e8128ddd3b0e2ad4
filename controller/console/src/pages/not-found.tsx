import { href } from "../lib/router";

/** A mistyped or stale link: say so, instead of quietly showing some other page. */
export function NotFoundPage({ path }: { path: string[] }) {
  const shown = `#/${path.join("/")}`;
  return (
    <section class="not-found" aria-labelledby="nf-title">
      <h1 id="nf-title">Page not found</h1>
      <p>
        There is no console page at <code>{shown.length > 120 ? `${shown.slice(0, 120)}…` : shown}</code>. The link may be mistyped, or from a newer or older version of Vigil.
      </p>
      <ul class="nf-links">
        <li>
          <a href={href(["alerts"])}>Alert queue</a>: open alerts, highest score first
        </li>
        <li>
          <a href={href(["cases"])}>Cases</a>: alerts grouped into incidents
        </li>
        <li>
          <a href={href(["hosts"])}>Hosts</a>: agents, sensor health, isolation
        </li>
        <li>
          <a href={href(["events"])}>Events</a>: search telemetry by host, kind, time and text
        </li>
      </ul>
    </section>
  );
}
