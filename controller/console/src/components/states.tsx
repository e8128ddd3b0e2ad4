/** Placeholders while a page loads or when its first load failed. */
export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function PageError({ what, error }: { what: string; error: string }) {
  return (
    <p class="error" role="alert">
      Could not load {what}: {error}
    </p>
  );
}
