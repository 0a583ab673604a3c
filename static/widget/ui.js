// The chat's elements (templates/widget/frame.html) and its status line.

import { state, timers } from "./state.js";
import { t } from "./words.js";

export const root = document.getElementById("chat");
const byTestId = (id) => root.querySelector(`[data-testid="${id}"]`);

export const ui = {
  agent: byTestId("chat-agent"),
  close: byTestId("chat-close"),
  end: byTestId("chat-end"),
  status: byTestId("status-line"),
  hours: byTestId("hours-notice"),
  hoursText: byTestId("hours-text"),
  hoursEmail: byTestId("hours-email"),
  list: byTestId("message-list"),
  typing: byTestId("typing-indicator"),
  survey: byTestId("survey"),
  emailForm: byTestId("email-form"),
  emailInput: byTestId("email-input"),
  emailNote: byTestId("email-note"),
  composerForm: byTestId("composer-form"),
  composer: byTestId("composer"),
  send: byTestId("send-button"),
};

export function setStatus(text, kind = "info") {
  clearTimeout(timers.status);
  ui.status.textContent = text;
  ui.status.dataset.state = kind;
}

// An error shows for a while, then the line says how the connection is again.
export function showError(text) {
  setStatus(text, "error");
  timers.status = setTimeout(connectionStatus, 8000);
}

export function connectionStatus() {
  if (state.ready) {
    setStatus(state.agentsOnline ? t("connected") : t("connected_no_agent"), "online");
  }
}
