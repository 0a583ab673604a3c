// The words the workspace's scripts write, in the agent's language: written into the page by the
// template (workspace.html, from conversations.workspace.workspace_labels), read once here, so no
// script carries English of its own.

export const LABELS = JSON.parse(document.getElementById("workspace-labels")?.textContent || "{}");
