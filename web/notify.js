// Toasts (at most three, bottom centre) and the load-error banner with its "Try again" button.

import { ApiError } from "./api.js";
import { el, icon } from "./dom.js";

const $ = (id) => document.getElementById(id);

export function toast(message, kind = "info", { timeout = kind === "error" ? 8000 : 4500 } = {}) {
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": "toast" }, [
    icon(kind === "error" || kind === "warning" ? "alert" : kind === "info" ? "info" : "check"),
    el("span", { class: "toast-msg" }, message),
  ]);
  const close = el("button", { type: "button", class: "icon-btn toast-close", "aria-label": "Dismiss" }, icon("x"));
  node.append(close);
  const remove = () => {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), 200);
  };
  close.addEventListener("click", remove);
  $("toasts").append(node);
  while ($("toasts").children.length > 3) $("toasts").firstElementChild.remove();
  setTimeout(remove, timeout);
}

/** An ApiError's message is fit to show; anything else gets a generic line. */
export function toastError(err) {
  toast(err instanceof ApiError ? err.message : "Something went wrong. Please try again.", "error");
}

let retryAction = null;

export function showLoadError(message, retry) {
  retryAction = retry;
  $("load-error").querySelector(".banner-text").textContent = message;
  $("load-error").hidden = false;
}

export function hideLoadError() {
  $("load-error").hidden = true;
}

export function wireLoadError() {
  $("retry-load").addEventListener("click", () => {
    hideLoadError();
    if (retryAction) retryAction();
  });
}
