/*
 * The support chat for a host site: the one tag it adds is
 *
 *   <script src="https://desk.example.com/static/widget/embed.js" data-identity-token="..." defer></script>
 *
 * It adds a launcher button and an iframe with the chat (the desk's /widget/frame/, on the desk's
 * origin, taken from this script's own src; `data-desk-url` overrides it). The identity token, signed
 * by the host's server, travels in the URL fragment, which browsers never send to a server, so it
 * stays out of access logs. `data-language="es"` sets the chat's language for visitors the desk
 * does not know (a known contact reads their own; else the browser's). The launcher's labels come
 * from the chat in that language once it is ready. The only global is `window.SupportDeskWidget`
 * (open, close, toggle).
 */
(function () {
  "use strict";
  if (window.SupportDeskWidget) return; // the tag was added twice

  var script = document.currentScript;
  if (!script || !script.src) return;
  var deskUrl = script.getAttribute("data-desk-url") || new URL(script.src, location.href).origin;
  var deskOrigin = new URL(deskUrl, location.href).origin;
  var token = script.getAttribute("data-identity-token") || "";
  var language = (script.getAttribute("data-language") || "").slice(0, 16);
  var OPEN_KEY = "supportdesk-widget-open";
  // Until the chat says them in the visitor's language (its "ready" message).
  var labels = { open: "Chat with support", close: "Close the support chat" };

  var style = document.createElement("style");
  style.textContent = [
    ".sdw-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;",
    "border:0;border-radius:50%;background:#2456d6;color:#fff;font:600 24px/56px system-ui,sans-serif;",
    "cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".sdw-launcher:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".sdw-badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;",
    "border-radius:10px;background:#d62d2d;color:#fff;font:600 12px/20px system-ui,sans-serif}",
    ".sdw-frame{position:fixed;right:20px;bottom:88px;z-index:2147483000;width:370px;height:560px;",
    "max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);border:0;border-radius:12px;",
    "background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.25)}",
    ".sdw-frame[hidden]{display:none}",
    "@media (max-width:480px){.sdw-frame{right:0;bottom:0;width:100vw;height:100vh;max-width:none;",
    "max-height:none;border-radius:0}",
    // The open chat fills a phone's screen: the launcher would sit on its Send button. The chat's
    // own close button (shown when embedded) closes it there, and the launcher comes back.
    ".sdw-launcher[aria-expanded=true]{display:none}}",
  ].join("");

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "sdw-launcher";
  launcher.setAttribute("data-testid", "supportdesk-launcher");
  launcher.setAttribute("aria-label", labels.open);
  launcher.setAttribute("aria-expanded", "false");
  launcher.textContent = "💬";
  var badge = document.createElement("span");
  badge.className = "sdw-badge";
  badge.hidden = true;
  launcher.appendChild(badge);

  var frame = document.createElement("iframe");
  frame.className = "sdw-frame";
  frame.title = labels.open;
  frame.hidden = true;
  frame.setAttribute("data-testid", "supportdesk-frame");
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.src = deskUrl.replace(/\/$/, "") + "/widget/frame/" + (language ? "?lang=" + encodeURIComponent(language) : "") +
    (token ? "#identity=" + encodeURIComponent(token) : "");

  var isOpen = false;

  function tell(message) {
    if (frame.contentWindow) frame.contentWindow.postMessage(message, deskOrigin);
  }

  function setOpen(open) {
    isOpen = open;
    frame.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? labels.close : labels.open);
    try { sessionStorage.setItem(OPEN_KEY, open ? "1" : ""); } catch (e) { /* storage may be off */ }
    tell({ source: "supportdesk-host", type: "visibility", open: open });
    if (open) {
      badge.hidden = true;
      frame.focus();
    }
  }

  launcher.addEventListener("click", function () { setOpen(!isOpen); });
  frame.addEventListener("load", function () {
    tell({ source: "supportdesk-host", type: "visibility", open: isOpen });
  });

  // What the chat tells its host: unread replies (for the badge) and a close button press.
  window.addEventListener("message", function (event) {
    if (event.origin !== deskOrigin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || data.source !== "supportdesk-widget") return;
    if (data.type === "unread") {
      var count = Number(data.count) || 0;
      badge.textContent = count > 9 ? "9+" : String(count);
      badge.hidden = isOpen || count === 0;
    } else if (data.type === "close") {
      setOpen(false);
      launcher.focus();
    } else if (data.type === "ready") {
      if (data.labels && typeof data.labels.open === "string" && typeof data.labels.close === "string") {
        labels = { open: data.labels.open.slice(0, 200), close: data.labels.close.slice(0, 200) };
        frame.title = labels.open;
        launcher.setAttribute("aria-label", isOpen ? labels.close : labels.open);
      }
      tell({ source: "supportdesk-host", type: "visibility", open: isOpen });
    }
  });

  function mount() {
    document.head.appendChild(style);
    document.body.appendChild(frame);
    document.body.appendChild(launcher);
    var wasOpen = false;
    try { wasOpen = sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { /* storage may be off */ }
    if (wasOpen) setOpen(true); // the chat stays open as the visitor moves between the host's pages
  }

  window.SupportDeskWidget = Object.freeze({
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    toggle: function () { setOpen(!isOpen); },
  });

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
