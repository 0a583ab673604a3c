// The satisfaction survey (workflows/surveys): asked after a chat is resolved, in a `chat.survey`
// frame (or in `ready`/`synced` while one waits for an answer). Its texts come in the visitor's
// language from the server and are put in with textContent only. The answer goes back as a
// `rate` frame, answered by `rated` (or an error frame `in_reply_to: "rate"`).

import { ClientFrame } from "../common/protocol.js";
import { send } from "./connection.js";
import { state } from "./state.js";
import { ui } from "./ui.js";

let shownSurvey = null; // the id of the survey on screen

export function surveyShow(survey) {
  if (!survey || !survey.survey_id) return;
  if (shownSurvey === survey.survey_id || state.answeredSurveys.has(survey.survey_id)) return;
  shownSurvey = survey.survey_id;
  const box = ui.survey;
  box.replaceChildren();
  box.dataset.survey = String(survey.survey_id);
  box.lang = survey.language || "";
  const form = document.createElement("form");
  form.dataset.testid = "survey-form";
  const question = document.createElement("fieldset");
  const legend = document.createElement("legend");
  legend.textContent = survey.question;
  question.append(legend);
  const scores = document.createElement("div");
  scores.className = "chat-survey-scores";
  for (const [score, label] of survey.scores || []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chat-survey-score";
    button.dataset.testid = `survey-score-${score}`;
    button.dataset.score = String(score);
    button.title = label;
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-pressed", "false");
    button.textContent = String(score);
    button.addEventListener("click", () => {
      for (const other of scores.children) other.setAttribute("aria-pressed", String(other === button));
      form.dataset.score = String(score);
    });
    scores.append(button);
  }
  question.append(scores);
  const label = document.createElement("label");
  label.textContent = survey.comment_label;
  const comment = document.createElement("textarea");
  comment.rows = 2;
  comment.maxLength = 2000;
  comment.dataset.testid = "survey-comment";
  label.append(comment);
  const submit = document.createElement("button");
  submit.type = "submit";
  submit.dataset.testid = "survey-submit";
  submit.textContent = survey.submit_label;
  const note = document.createElement("p");
  note.className = "chat-survey-note";
  note.dataset.testid = "survey-note";
  note.setAttribute("role", "status");
  form.append(question, label, submit, note);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const score = Number(form.dataset.score);
    if (!score) {
      note.textContent = survey.question;
      return;
    }
    if (!state.ready || !send({ type: ClientFrame.RATE, survey_id: survey.survey_id, score, comment: comment.value })) {
      note.textContent = "…";
    }
  });
  box.append(form);
  box.hidden = false;
}

export function surveyRated(frame) {
  state.answeredSurveys.add(frame.survey_id);
  if (String(frame.survey_id) !== ui.survey.dataset.survey) return;
  const thanks = document.createElement("p");
  thanks.className = "chat-survey-thanks";
  thanks.dataset.testid = "survey-thanks";
  thanks.textContent = frame.thanks;
  ui.survey.replaceChildren(thanks);
  shownSurvey = null;
}

export function surveyError(error) {
  const note = ui.survey.querySelector("[data-testid=survey-note]");
  if (note) note.textContent = error.message || "";
}
