// A small modal question (<dialog id="confirm">): "Cancel this batch?" and the like. Escape or
// the dismiss button answers no; focus returns to the control that asked.

const $ = (id) => document.getElementById(id);

export class ConfirmDialog {
  constructor() {
    this.resolve = null;
    this.opener = null;
  }

  get isOpen() {
    return $("confirm").open;
  }

  wire() {
    const dlg = $("confirm");
    $("confirm-yes").addEventListener("click", () => this.finish(true));
    $("confirm-no").addEventListener("click", () => this.finish(false));
    dlg.addEventListener("cancel", (e) => {
      e.preventDefault(); // Escape: answer no ourselves, so focus goes back where it was
      this.finish(false);
    });
  }

  /** Ask; resolves true (yes) or false (no, Escape). */
  ask({ title, body, yes, no = "Keep going", danger = true }, opener = document.activeElement) {
    if (this.resolve) this.finish(false);
    $("confirm-title").textContent = title;
    $("confirm-body").textContent = body;
    $("confirm-yes").textContent = yes;
    $("confirm-yes").classList.toggle("danger", danger);
    $("confirm-no").textContent = no;
    this.opener = opener;
    $("confirm").showModal();
    $("confirm-no").focus();
    return new Promise((resolve) => (this.resolve = resolve));
  }

  finish(answer) {
    const resolve = this.resolve;
    this.resolve = null;
    if ($("confirm").open) $("confirm").close();
    if (this.opener && this.opener.isConnected && !this.opener.disabled) this.opener.focus();
    if (resolve) resolve(answer);
  }
}
