// The touchscreen: follows the gate's state by long polling /api/state, and sends passes.
"use strict";

const TEXT = {
  zh: {
    idle: "请上前测温", idle_pass: "请扫码或输入通行码，然后上前测温",
    need_pass: "请先出示通行码", measuring: "正在测温，请保持不动…",
    admitted: "体温正常，请通行", blocked: "体温异常，禁止通行",
    blocked_detail: "请在旁等候，门卫将为您复测", retry: "请重新测温",
    awaiting_guard: "前一位正在由门卫处理，请稍候", awaiting_guard_detail: "处理完毕后即可测温通行",
    unattended: "门卫暂不在岗，请稍候或联系物业管理处", pass_next: "通行码已收到，轮到您时请上前测温",
    fault: "测温失败，请联系门卫", sensor_fault: "测温设备故障，请联系门卫",
    not_recorded: "无法记录，请联系门卫", starting: "正在启动…", stopped: "暂停服务，请联系门卫",
    guard_remeasure: "门卫复测：请上前测温", guard_remeasure_detail: "请正对探头，保持不动",
    remeasure_clearing: "门卫复测：请探头前的人先离开", remeasure_clearing_detail: "复测者随后上前，正对探头",
    staff_measuring: "员工上岗测温：请员工正对探头，住户请稍候", staff_on: "员工已上岗。住户请上前测温",
    staff_confirm: "员工上岗：请在门卫屏确认是本人体温，住户请稍候",
    staff_blocked: "体温异常，本班不能上岗", staff_retry: "请正对探头，重新测温",
    held: "请稍候，门卫将为您办理", guard_admitted: "门卫已放行，请通行", guard_denied: "请听从门卫安排",
    too_cold: "读数偏低：请摘下帽子，额头对准探头", too_hot: "读数异常，请重新测温",
    unstable: "读数不稳定，请保持不动", left: "测量中断，请站稳后重新测温",
    still: "读数没有更新，请重新测温",
    recorded: "已记录 · 编号 ", pass_label: "通行码", measure_again: "重新测温",
    pass_ok: "通行码有效", pass_unknown: "通行码无效", pass_revoked: "通行码已停用",
    pass_expired: "通行码已过期", pass_format: "通行码格式不正确", pass_needed: "请出示通行码后通行",
    threshold: "标准 ≤ ", offline: "连接中断，正在重连…", lang: "English",
  },
  en: {
    idle: "Step up to be measured", idle_pass: "Scan or type your pass, then step up",
    need_pass: "Please show your pass first", measuring: "Measuring, please hold still…",
    admitted: "Normal temperature, please enter", blocked: "High temperature, entry blocked",
    blocked_detail: "Please wait aside; the guard will measure you again", retry: "Please measure again",
    awaiting_guard: "The guard is attending to the person before you: please wait",
    awaiting_guard_detail: "You will be measured once they are done",
    unattended: "No guard on duty: please wait or call the management office",
    pass_next: "Pass received: step up when it is your turn",
    fault: "Measurement failed, please call the guard", sensor_fault: "Thermometer fault, please call the guard",
    not_recorded: "Cannot record, please call the guard", starting: "Starting…",
    stopped: "Out of service, please call the guard",
    guard_remeasure: "The guard measures you again: step up",
    guard_remeasure_detail: "Face the sensor and hold still",
    remeasure_clearing: "The guard's re-measure: whoever is at the sensor, please step away",
    remeasure_clearing_detail: "Then the person to be re-measured steps up",
    staff_measuring: "Staff sign-on: staff face the sensor, residents please wait", staff_on: "Staff on duty. Residents, step up to be measured",
    staff_confirm: "Staff sign-on: confirm the reading on the guard screen; residents please wait",
    staff_blocked: "High temperature: cannot go on duty", staff_retry: "Face the sensor and measure again",
    held: "Please wait: the guard will attend to you", guard_admitted: "The guard has let you in",
    guard_denied: "Please follow the guard's instructions",
    too_cold: "Reading too low: remove your hat and face the sensor", too_hot: "Implausible reading, please measure again",
    unstable: "Unstable reading, please hold still", left: "Interrupted, please stand still and measure again",
    still: "The reading did not update, please measure again",
    recorded: "Recorded · no. ", pass_label: "Pass code", measure_again: "Measure again",
    pass_ok: "Pass accepted", pass_unknown: "Unknown pass", pass_revoked: "This pass has been revoked",
    pass_expired: "This pass has expired", pass_format: "That is not a pass code", pass_needed: "Show your pass to enter",
    threshold: "limit ≤ ", offline: "Connection lost, reconnecting…", lang: "中文",
  },
};
const ICONS = { awaiting_guard: "…", staff_measuring: "…", staff_confirm: "…", staff_on: "☺", staff_blocked: "✖", staff_retry: "↻", guard_remeasure: "☺", guard_admitted: "✔", guard_denied: "✖", held: "…", admitted: "✔", blocked: "✖", retry: "↻", fault: "⚠", sensor_fault: "⚠",
  not_recorded: "⚠", measuring: "…", need_pass: "▦", idle: "☺", starting: "…" };

const body = document.body;
const identify = body.dataset.identify;
const defaultLanguage = body.dataset.language;
let language = defaultLanguage;
let current = { screen: "starting", version: 0 };
// A new person starts (measuring) or the lane is free again (idle): back to the default
// language, so the next person never finds English left on by the one before.
const NEW_PERSON = new Set(["idle", "measuring", "guard_remeasure"]);

function setLanguage(next) {
  language = next;
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
}

const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[language][key] ?? key;

function render() {
  const s = current;
  body.className = "screen-" + s.screen;
  body.dataset.screen = s.screen;
  $("status-icon").textContent = ICONS[s.screen] ?? "";
  let headline = t(s.screen === "guard_remeasure" && s.clearing ? "remeasure_clearing" : s.screen);
  if (s.screen === "idle" && identify !== "off") headline = t("idle_pass");
  $("headline").textContent = headline;
  $("temperature").textContent = s.estimate_c != null ? s.estimate_c.toFixed(1) + " °C" : "";
  let detail = "";
  if (s.screen === "blocked") detail = t("blocked_detail");
  else if (s.screen === "awaiting_guard") detail = t(s.unattended ? "unattended" : "awaiting_guard_detail");
  else if (s.screen === "guard_remeasure") detail = t(s.clearing ? "remeasure_clearing_detail" : "guard_remeasure_detail");
  else if (s.reason && s.screen === "retry") detail = t(s.reason);
  else if (s.screen === "admitted" && s.need_pass) detail = t("pass_needed");
  else if (s.screen === "admitted" && s.threshold_c != null) detail = t("threshold") + s.threshold_c.toFixed(1) + " °C";
  $("detail").textContent = detail;
  $("recorded").textContent = s.recorded ? t("recorded") + s.seq : "";
  const showPass = identify !== "off" && ["idle", "need_pass", "admitted"].includes(s.screen)
    && !(s.screen === "admitted" && identify === "before");
  $("pass-area").hidden = !showPass;
  // Never after a fever block: that is the guard's to clear (docs/screening.md).
  $("measure-again").hidden = !["retry", "admitted"].includes(s.screen);
  $("measure-again").textContent = t("measure_again");
  $("pass-label").textContent = t("pass_label");
  $("language-toggle").textContent = t("lang");
}

async function follow() {
  for (;;) {
    try {
      const response = await fetch("/api/state?after=" + current.version, { cache: "no-store" });
      if (!response.ok) throw new Error(response.status);
      const state = await response.json();
      $("connection").textContent = "";
      if (state.version !== current.version) {
        if (NEW_PERSON.has(state.screen) && state.screen !== current.screen) {
          setLanguage(defaultLanguage);
          if (state.screen === "measuring") $("scan-message").textContent = "";  // not theirs
        }
        current = state;
        render();
      }
    } catch (error) {
      $("connection").textContent = t("offline");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function post(path, payload) {
  return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload ?? {}) });
}

// The pass message shows beside the keypad, or over the screen when the keypad is hidden (a scan
// during a verdict counts for the next person: they are told so).
function say(message, ok) {
  const target = $("pass-area").hidden ? $("scan-message") : $("pass-message");
  target.textContent = message;
  target.className = ok ? "ok" : "refused";
  setTimeout(() => { target.textContent = ""; }, 4000);
}

async function submitPass(code) {
  if (!code) return;
  const during = current.screen;
  let message = t("pass_format");
  let ok = false;
  try {
    const response = await post("/api/pass", { code });
    const result = await response.json();
    ok = result.ok;
    message = t(result.reason ? "pass_" + result.reason : "pass_format");
    if (ok && identify === "before" && !["idle", "need_pass"].includes(during)) message = t("pass_next");
  } catch (error) {
    message = t("offline");
  }
  say(message, ok);
}

$("keypad").addEventListener("click", (event) => {
  const key = event.target.dataset?.key;
  if (!key) return;
  const input = $("pass-input");
  if (key === "back") input.value = input.value.slice(0, -1);
  else if (key === "ok") { const code = input.value.trim(); input.value = ""; submitPass(code); }
  else if (input.value.length < 32) input.value += key;
});

// A USB QR scanner is a keyboard: it types the code and Enter. It is heard in every state and
// never through focus: keys are taken at the document before any element sees them, so its
// Enter presses no button (it once switched the language on a block) and nothing is typed into
// a field. A scan is the keys up to its Enter; a scanner may pause inside a burst (a field trial
// saw 60 ms and more), so keys are kept until Enter, and a fragment with no Enter for a second
// is dropped, never submitted (its tail could be another resident's code).
const SCAN_GAP_MS = 1000;
let scanned = "";
let lastKey = 0;
document.addEventListener("keydown", (event) => {
  const now = performance.now();
  if (now - lastKey > SCAN_GAP_MS) scanned = "";
  lastKey = now;
  event.preventDefault();
  event.stopPropagation();
  if (event.key === "Enter") {
    const code = scanned.trim();
    scanned = "";
    submitPass(code);
  } else if (event.key.length === 1 && scanned.length < 64) {
    scanned += event.key;
  }
}, true);
// Touch targets never keep the focus, so no key can reach them.
document.addEventListener("mousedown", (event) => {
  if (event.target.closest("button")) event.preventDefault();
}, true);

$("measure-again").addEventListener("click", () => post("/api/measure-again"));
$("language-toggle").addEventListener("click", () => {
  setLanguage(language === "zh" ? "en" : "zh");
  render();
});

render();
follow();
