import { useState } from "preact/hooks";
import { useSession } from "../lib/context";

/**
 * The case's title, renamable by an analyst. Detection sets it once, from the alert that opened the
 * case, and never changes it afterwards, so the name an analyst gave it is the one they find again.
 */
export function CaseTitle({ id, title, onChanged }: { id: string; title: string; onChanged: () => void }) {
  const { api } = useSession();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(title);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    const t = draft.trim();
    if (!t || t === title) return setEditing(false);
    setBusy(true);
    setError(null);
    try {
      await api.renameCase(id, t);
      setEditing(false);
      onChanged();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  if (!editing) {
    return (
      <div class="case-title-line">
        <h1 id="case-title">{title}</h1>
        <button
          type="button"
          class="btn btn-link btn-small"
          aria-label="Rename case"
          onClick={() => {
            setDraft(title);
            setEditing(true);
          }}
        >
          Rename
        </button>
      </div>
    );
  }
  return (
    <form
      class="case-title-line"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <h1 id="case-title" class="sr-only">
        {title}
      </h1>
      <label class="sr-only" for="case-title-input">
        Case title
      </label>
      <input
        id="case-title-input"
        class="case-title-input"
        value={draft}
        maxLength={512}
        disabled={busy}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onKeyDown={(e) => e.key === "Escape" && setEditing(false)}
      />
      <button type="submit" class="btn btn-small" disabled={busy}>
        Save
      </button>
      <button type="button" class="btn btn-link btn-small" disabled={busy} onClick={() => setEditing(false)}>
        Cancel
      </button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
