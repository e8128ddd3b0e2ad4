import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export interface ConfirmProps {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  /** Styles the confirm button as destructive (isolation cuts a host off the network). */
  danger?: boolean;
  /** Ask for a reason: it goes into the command and the audit trail. */
  reasonLabel?: string;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}

/**
 * Focus starts on the reason field (or on Cancel), never on the destructive button.
 * A modal confirmation on the native <dialog>: the browser keeps focus inside and Escape
 * cancels; focus then returns to the button that opened it.
 */
export function ConfirmDialog(p: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState("");
  useEffect(() => {
    const d = ref.current;
    // The dialog is unmounted rather than closed, so give focus back to its opener ourselves.
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (d && !d.open) d.showModal();
    return () => {
      if (d?.open) d.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="confirm-title" onCancel={(e) => (e.preventDefault(), p.onCancel())}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          p.onConfirm(reason.trim());
        }}
      >
        <h2 id="confirm-title">{p.title}</h2>
        <div class="dialog-body">{p.children}</div>
        {p.reasonLabel && (
          <label class="field">
            <span>{p.reasonLabel}</span>
            <input type="text" value={reason} autoFocus maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
        )}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={p.onCancel} autoFocus={!p.reasonLabel}>
            Cancel
          </button>
          <button type="submit" class={`btn ${p.danger ? "btn-danger" : "btn-primary"}`}>
            {p.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
