import { useState } from "preact/hooks";
import type { Verdict } from "../api/types";
import { useSession } from "./context";

/** Gives an analyst's verdict on one alert: busy while it is sent, the API's error if refused. */
export function useVerdict(alertId: string, onChanged: () => void): { busy: boolean; error: string | null; give: (v: Verdict) => Promise<void> } {
  const { api } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const give = async (v: Verdict) => {
    setBusy(true);
    setError(null);
    try {
      await api.feedback(alertId, v);
      onChanged();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, give };
}
