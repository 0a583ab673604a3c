// A new offer asks for attention: a browser notification and a short tone. Browsers allow
// both only after a user gesture, so `primeAlerts` runs on the first click or key press.

import { wordsFill } from "../common/format.js";
import { LABELS } from "./labels.js";

let audio = null;

export function primeAlerts() {
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!audio && Context) audio = new Context();
  if (audio && audio.state === "suspended") audio.resume().catch(() => {});
}

function chime() {
  if (!audio) return;
  const now = audio.currentTime;
  const gain = audio.createGain();
  gain.connect(audio.destination);
  gain.gain.setValueAtTime(0.0001, now);
  gain.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.45);
  // Two rising notes: heard as "something new", not as an error buzz.
  [[660, 0], [880, 0.15]].forEach(([frequency, start]) => {
    const tone = audio.createOscillator();
    tone.type = "sine";
    tone.frequency.setValueAtTime(frequency, now + start);
    tone.connect(gain);
    tone.start(now + start);
    tone.stop(now + start + 0.3);
  });
}

export function notifyOffer({ itemId, conversationId, channel }) {
  chime();
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const notification = new Notification(LABELS.offer_title, {
    body: wordsFill(LABELS.offer_body, { id: conversationId, channel }),
    tag: `offer-${itemId}`, // one notification per offer, even if pushed twice
  });
  notification.onclick = () => {
    window.focus();
    notification.close();
  };
}
