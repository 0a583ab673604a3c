// Frames from the server: ready, synced, chat.message, ack, chat.typing, chat.read, chat.status,
// chat.agent, chat.notice, chat.survey, rated, email_saved, ended, error (the names: static/common/protocol.js).

import { ClientFrame, Frame } from "../common/protocol.js";
import { connectionCounts, sync, syncSoon } from "./connection.js";
import { failedMark, outboxFlush, readMark, sentMark } from "./outbox.js";
import {
  agentShow, emailFormUpdate, emailSaved, endButtonUpdate, messagePlace, messageRender, notice, resolvedShow,
  seenRefresh, typingHide, typingShow,
} from "./render.js";
import { surveyError, surveyRated, surveyShow } from "./survey.js";
import { inflight, isVisible, pending, shown, state, tellHost, timers } from "./state.js";
import { t } from "./words.js";
import { connectionStatus, setStatus, showError, ui } from "./ui.js";

export function receive(frame) {
  switch (frame.type) {
    case Frame.READY:
      connectionCounts();
      endButtonUpdate(); // an "End chat" whose answer the old socket lost may be pressed again
      stateApply(frame);
      sync();
      break;
    case Frame.SYNCED:
      syncedApply(frame);
      break;
    case Frame.CHAT_MESSAGE:
      messageReceive(frame);
      break;
    case Frame.ACK:
      ackReceive(frame);
      break;
    case Frame.CHAT_TYPING:
      if (frame.side === "agent" && frame.conversation_id === state.conversationId) typingShow(frame.name);
      break;
    case Frame.CHAT_READ:
      if (frame.side === "agent" && frame.conversation_id === state.conversationId) {
        state.agentReadSeq = Math.max(state.agentReadSeq, frame.sequence || 0);
        seenRefresh();
      }
      break;
    case Frame.CHAT_STATUS:
      if (frame.conversation_id === state.conversationId
          && (frame.status === "resolved" || frame.status === "closed")) {
        resolvedShow(frame.status === "closed" ? t("closed") : undefined);
      }
      break;
    case Frame.CHAT_AGENT:
      if (frame.conversation_id === state.conversationId) agentShow(frame.agent);
      break;
    case Frame.CHAT_NOTICE: // a system notice, in the visitor's language (conversations/waiting.py)
      if (frame.conversation_id === state.conversationId) notice(frame.text, frame.after_sequence + 0.5);
      break;
    case Frame.CHAT_SURVEY: // a satisfaction survey, in the visitor's language (workflows/surveys)
      surveyShow(frame);
      break;
    case Frame.RATED:
      surveyRated(frame);
      break;
    case Frame.EMAIL_SAVED:
      emailSaved();
      break;
    case Frame.ENDED: // the visitor ended their chat ("End chat"); the text is in the chat's language
      if (frame.conversation_id === state.conversationId) resolvedShow(frame.text);
      break;
    case Frame.ERROR:
      errorReceive(frame);
      break;
    default:
      break; // a frame type from a newer server: nothing to do with it
  }
}

// `ready` and `synced` carry the visitor's current chat and whether any agent is online.
function stateApply(frame) {
  state.agentsOnline = Boolean(frame.agents_online);
  emailFormUpdate();
  if (frame.survey) surveyShow(frame.survey);
  const chat = frame.conversation;
  if (!chat) {
    if (state.conversationId !== null && !state.resolved) resolvedShow(); // it ended while we were away
    return;
  }
  conversationAdopt(chat.id);
  if (chat.id !== state.conversationId) return;
  if (chat.agent) agentShow(chat.agent);
  state.agentReadSeq = Math.max(state.agentReadSeq, chat.agent_read_sequence || 0);
  seenRefresh();
}

// True when the event belongs to the chat shown now (a newer chat replaces an older one).
function conversationAdopt(conversationId) {
  if (conversationId === state.conversationId) return true;
  if (state.conversationId !== null && conversationId < state.conversationId) return false; // a late event
  state.conversationId = conversationId;
  state.lastSeq = 0;
  state.agentReadSeq = 0;
  state.highestAgentSeq = 0;
  state.lastReadSent = 0;
  state.resolved = false;
  endButtonUpdate();
  return true;
}

function syncedApply(frame) {
  clearTimeout(timers.syncWatchdog);
  state.syncing = false;
  const chat = frame.conversation;
  const changed = (chat ? chat.id : null) !== state.syncFor;
  stateApply(frame);
  if (chat && chat.id === state.conversationId) {
    if (changed) {
      state.lastSeq = 0; // a new chat began meanwhile: the sync looked at it from our old mark
      state.syncAgain = true;
    } else if (state.syncMax === null) {
      state.lastSeq = Math.max(state.lastSeq, chat.last_sequence || 0); // nothing visible was missing
    } else {
      state.lastSeq = Math.max(state.lastSeq, state.syncMax);
      // The server sends a bounded page: look again until a sync comes back empty.
      if (state.lastSeq < (chat.last_sequence || 0)) state.syncAgain = true;
    }
  }
  const first = !state.ready;
  state.ready = true;
  if (first) connectionStatus();
  outboxFlush();
  readMark();
  if (state.syncAgain) {
    state.syncAgain = false;
    sync();
  }
}

function advance(sequence) {
  if (sequence <= state.lastSeq) return;
  if (sequence === state.lastSeq + 1) state.lastSeq = sequence;
  else if (!state.syncing) syncSoon();
}

function messageReceive(message) {
  if (!conversationAdopt(message.conversation_id)) return;
  if (state.syncing) state.syncMax = Math.max(state.syncMax || 0, message.sequence);
  const key = `${message.conversation_id}:${message.sequence}`;
  if (!shown.has(key)) {
    const mine = message.direction === "in" && message.client_id && pending.get(message.client_id);
    if (mine) {
      sentMark(message.client_id, message.conversation_id, message.sequence);
    } else {
      const li = messageRender(message);
      shown.set(key, li);
      messagePlace(li);
    }
    if (message.direction === "out") {
      typingHide();
      state.highestAgentSeq = Math.max(state.highestAgentSeq, message.sequence);
      if (!isVisible() && message.sequence > state.lastReadSent) {
        state.unread += 1;
        tellHost({ type: "unread", count: state.unread });
      }
    }
  }
  advance(message.sequence);
  readMark();
}

function ackReceive(ack) {
  const index = inflight.indexOf(ack.client_id);
  if (index >= 0) inflight.splice(index, 1);
  conversationAdopt(ack.conversation_id);
  if (pending.has(ack.client_id)) sentMark(ack.client_id, ack.conversation_id, ack.sequence);
  if (ack.conversation_id === state.conversationId) advance(ack.sequence);
}

const RETRYABLE = new Set(["rate_limited", "server_error"]);

function errorReceive(error) {
  const text = error.message || t("something_wrong");
  if (error.in_reply_to === ClientFrame.MESSAGE || (error.code === "too_large" && inflight.length)) {
    // Frames are answered in order, so this error is the oldest message still in flight.
    const clientId = inflight.shift();
    if (clientId && pending.has(clientId)) {
      if (RETRYABLE.has(error.code)) {
        const wait = error.retry_after || Number((text.match(/([\d.]+) seconds?/) || [])[1]) || 3;
        state.holdOutboxUntil = Date.now() + wait * 1000;
        clearTimeout(timers.outbox);
        timers.outbox = setTimeout(outboxFlush, wait * 1000);
        showError(error.code === "rate_limited"
          ? t("sending_quickly", { seconds: Math.ceil(wait) }) : text);
      } else {
        failedMark(clientId, text);
      }
    }
    return;
  }
  if (error.in_reply_to === ClientFrame.RATE) {
    surveyError(error);
    return;
  }
  if (error.in_reply_to === ClientFrame.END) endButtonUpdate(); // it may be pressed again
  if (error.in_reply_to === ClientFrame.EMAIL) {
    ui.emailNote.textContent = text;
    ui.emailNote.dataset.state = "error";
    return;
  }
  if (error.in_reply_to === ClientFrame.SYNC) {
    clearTimeout(timers.syncWatchdog);
    state.syncing = false;
    setTimeout(sync, (error.retry_after || 3) * 1000);
  }
  if (error.in_reply_to === ClientFrame.TYPING || error.in_reply_to === ClientFrame.READ) return; // nothing the visitor must do
  if (error.code === "rate_limited") {
    showError(error.retry_after ? t("too_many", { seconds: Math.ceil(error.retry_after) }) : text);
  } else if (error.code === "token_invalid") {
    setStatus(text, "error");
  } else {
    showError(text);
  }
}
