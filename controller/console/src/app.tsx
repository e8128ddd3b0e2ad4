import { useEffect, useMemo, useState } from "preact/hooks";
import { Api } from "./api/client";
import { LiveFeed, type LiveMode } from "./api/live";
import { SessionContext } from "./lib/context";
import { href, useRoute, type Route } from "./lib/router";
import { clearKey, loadKey, saveKey } from "./lib/session";
import { AlertPage } from "./pages/alert";
import { AlertsPage } from "./pages/alerts";
import { CasePage } from "./pages/case";
import { CasesPage } from "./pages/cases";
import { EventsPage } from "./pages/events";
import { HostsPage } from "./pages/hosts";
import { NotFoundPage } from "./pages/not-found";
import { SignIn } from "./pages/sign-in";

const NAV = [
  { path: "alerts", label: "Alerts" },
  { path: "cases", label: "Cases" },
  { path: "hosts", label: "Hosts" },
  { path: "events", label: "Events" },
] as const;

function LiveIndicator({ mode }: { mode: LiveMode }) {
  const text = mode === "live" ? "Live" : mode === "polling" ? "Polling" : "Connecting";
  const title = mode === "live" ? "Updates arrive over the live stream" : mode === "polling" ? "Live stream unavailable: refreshing every few seconds" : "Connecting to the live stream";
  return (
    <span class={`live live-${mode}`} title={title} role="status">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** Every route the console knows; anything else is "not found", never a silent fallback to alerts. */
function Page({ route }: { route: Route }) {
  const [first = "alerts", second, ...rest] = route.path;
  if (rest.length) return <NotFoundPage path={route.path} />;
  if (first === "alerts") return second ? <AlertPage id={second} /> : <AlertsPage route={route} />;
  if (first === "cases") return second ? <CasePage id={second} focusAlert={route.query.get("alert") ?? undefined} /> : <CasesPage route={route} />;
  if (first === "hosts" && !second) return <HostsPage focus={route.query.get("host") ?? undefined} />;
  if (first === "events" && !second) return <EventsPage route={route} />;
  return <NotFoundPage path={route.path} />;
}

function Shell({ apiKey, onSignOut }: { apiKey: string; onSignOut: (notice?: string) => void }) {
  const route = useRoute();
  const session = useMemo(() => ({ api: new Api(apiKey, () => onSignOut("Your API key was refused (revoked or expired). Sign in again.")), live: new LiveFeed(apiKey) }), [apiKey]);
  const [mode, setMode] = useState<LiveMode>(session.live.current);
  useEffect(() => {
    const off = session.live.onMode(setMode);
    session.live.start();
    return () => {
      off();
      session.live.stop();
    };
  }, [session]);
  const section = route.path[0] ?? "alerts";
  // Moving between pages puts focus at the start of the new page, as a page load would for a screen reader.
  useEffect(() => {
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [route.path.join("/")]);

  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href(["alerts"])}>
          <span class="logo" aria-hidden="true">
            ◆
          </span>{" "}
          Vigil
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.path}>
                <a href={href([n.path])} aria-current={section === n.path ? "page" : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="topbar-right">
          <LiveIndicator mode={mode} />
          <button type="button" class="btn btn-small btn-ghost" onClick={() => onSignOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </SessionContext.Provider>
  );
}

export function App() {
  const [key, setKey] = useState<string | null>(loadKey);
  const [notice, setNotice] = useState<string | undefined>();
  if (!key)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(k) => {
          saveKey(k);
          setNotice(undefined);
          setKey(k);
        }}
      />
    );
  return (
    <Shell
      apiKey={key}
      onSignOut={(n) => {
        clearKey();
        setNotice(n);
        setKey(null);
      }}
    />
  );
}
