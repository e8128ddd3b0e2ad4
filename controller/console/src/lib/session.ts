// The API key lives in sessionStorage: it survives a reload but not the tab, and is never
// written anywhere else (no localStorage, no URL, no log).
const KEY = "vigil.apiKey";

export function loadKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function clearKey(): void {
  sessionStorage.removeItem(KEY);
}
