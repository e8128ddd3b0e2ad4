import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Topic } from "../api/live";
import { refreshOnShow } from "../api/live";
import { useSession } from "./context";

export interface Resource<T> {
  data?: T;
  error?: string;
  /** True only for the first load: refreshes keep showing the last data instead of flashing. */
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `fetch` when `key` changes and again whenever the live feed reports a change on one of
 * `topics`. Answers of superseded requests are dropped, so a slow old answer cannot overwrite a
 * newer one after a filter changed.
 */
export function useResource<T>(fetch: () => Promise<T>, key: string, topics: Topic[]): Resource<T> {
  const { live } = useSession();
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean; key: string }>({ loading: true, key });
  const generation = useRef(0);
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;

  const reload = useCallback(() => {
    const mine = ++generation.current;
    fetchRef.current().then(
      (data) => mine === generation.current && setState({ data, loading: false, key }),
      (err: unknown) => mine === generation.current && setState((s) => ({ ...s, error: err instanceof Error ? err.message : String(err), loading: false })),
    );
  }, [key]);

  useEffect(() => {
    setState((s) => (s.key === key ? s : { loading: true, key }));
    reload();
    const unsub = live.subscribe(topics, reload);
    const unshow = refreshOnShow(live, reload);
    return () => {
      unsub();
      unshow();
    };
    // `topics` is a literal per call site; `key` captures everything else that matters.
  }, [key, reload, live]);

  const fresh = state.key === key;
  return { data: fresh ? state.data : undefined, error: fresh ? state.error : undefined, loading: !fresh || state.loading, reload };
}
