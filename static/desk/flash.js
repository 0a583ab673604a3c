// The workspace's flash area: one message at a time, dismissed with its ×.

export function flash(message) {
  const area = document.getElementById("desk-flash");
  if (!area) return;
  const box = document.createElement("div");
  box.className = "desk-error";
  box.setAttribute("role", "alert");
  box.dataset.testid = "desk-error";
  const text = document.createElement("span");
  text.textContent = message;
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "link";
  dismiss.dataset.dismiss = "";
  dismiss.textContent = "×";
  box.append(text, dismiss);
  area.replaceChildren(box);
}

document.addEventListener("click", (event) => {
  const dismiss = event.target.closest?.("[data-dismiss]");
  if (dismiss) dismiss.closest(".desk-error")?.remove();
});
