import { useState } from "preact/hooks";
import { Api, ApiError } from "../api/client";

/** Sign in with an API key; the key is checked against the API before it is kept. */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (key: string) => void; notice?: string }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) return setError("Enter an API key.");
    setBusy(true);
    setError(null);
    try {
      await new Api(k).agents();
      onSignedIn(k);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "This API key is not valid (unknown, revoked or mistyped)."
          : err instanceof ApiError && err.status === 403
            ? "This API key may not read the console's data."
            : `Could not reach the controller: ${err instanceof Error ? err.message : String(err)}`,
      );
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">
          <span class="logo" aria-hidden="true">
            ◆
          </span>{" "}
          Vigil
        </h1>
        <p class="muted">Sign in with an API key: analyst to work cases and respond, readonly to look.</p>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <label class="field">
          <span>API key</span>
          <input
            type="password"
            name="apiKey"
            autoComplete="off"
            spellcheck={false}
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            autoFocus
            aria-describedby={error ? "sign-in-error" : undefined}
            aria-invalid={!!error}
          />
        </label>
        {error && (
          <p id="sign-in-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        <p class="muted small">
          Create one with <code>vigil-controller apikey create --role analyst</code>. It is kept for this tab only.
        </p>
      </form>
    </main>
  );
}
