// The guard screen: PIN unlock, then decisions, visitors, vehicles, today's ledger, health.
"use strict";

const $ = (id) => document.getElementById(id);
const LABELS = {
  blocked: "体温异常 blocked", fault: "测温故障 fault", held: "访客待审 visitor held",
  admitted: "放行 admitted", denied: "不放行 denied", registered: "已登记 registered",
  screening: "测温", visitor: "访客", vehicle: "车辆", override: "处置", alarm: "报警",
  identify: "验码", sensor_fault: "设备故障", sensor_recovered: "设备恢复",
  remeasured_normal: "复测正常 re-measured normal", exertion_or_sun: "运动/日晒 exertion or sun",
  device_error: "设备误报 device error", emergency: "紧急情况 emergency", other: "其他 other",
  fever_confirmed: "确认发热 fever confirmed", risk_area: "风险地区 risk area",
  health_code: "健康码异常 health code", refused_measurement: "拒绝测温 refused",
  visit_family: "探亲访友 family", delivery: "快递外卖 delivery", repair: "维修 repair",
  housekeeping: "家政 housekeeping", medical: "医护 medical", official: "公务 official",
  green: "绿码 green", yellow: "黄码 yellow", red: "红码 red", none: "无 none",
  code_yellow: "黄码 yellow code", code_red: "红码 red code", in: "进", out: "出",
  quarantine: "居家隔离住户刷码 quarantined resident's pass",
  admit: "放行 Admit", deny: "不放行 Deny",
};
const label = (key) => LABELS[key] ?? key ?? "";
let csrf = null;
let autoLockMs = 120000;
let lastTouch = Date.now();
let selectedGuard = null;
let options = null;
let overrideTarget = null;

async function call(method, path, payload) {
  const init = { method, headers: {} };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    if (csrf) init.headers["X-CSRF-Token"] = csrf;
    init.body = JSON.stringify(payload ?? {});
  }
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 && csrf) showLogin();
  return { ok: response.ok, status: response.status, body };
}

function buildKeypads() {
  document.querySelectorAll(".keypad").forEach((pad) => {
    const target = $(pad.dataset.target);
    let keys = "123456789".split("").concat(pad.dataset.dot ? ["."] : [], ["0", "⌫"]);
    if (pad.dataset.letters) keys = "1234567890ABCDEFGHJKLMNPQRSTUVWXYZ挂学".split("").concat(["⌫"]);
    for (const key of keys) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = key;
      button.dataset.key = key;
      button.addEventListener("click", () => {
        if (key === "⌫") target.value = target.value.slice(0, -1);
        else if (target.value.length < target.maxLength) target.value += key;
      });
      pad.appendChild(button);
    }
  });
}

function choiceGroup(container, values, onPick) {
  container.replaceChildren();
  for (const value of values) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.value = value;
    button.textContent = label(value);
    button.addEventListener("click", () => {
      container.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b === button));
      onPick?.(value);
    });
    container.appendChild(button);
  }
}
const picked = (container) => container.querySelector("button.active")?.dataset.value ?? null;

function fillSelect(select, values, blank) {
  select.replaceChildren();
  if (blank) select.appendChild(new Option(blank, ""));
  for (const value of values) select.appendChild(new Option(label(value), value));
}

// -- sign-in -------------------------------------------------------------------------------
async function showLogin() {
  csrf = null;
  document.body.className = "locked";
  $("desk").hidden = true;
  $("login").hidden = false;
  $("pin").value = "";
  const { body } = await call("GET", "/api/guard/guards");
  const list = $("guard-list");
  list.replaceChildren();
  for (const g of body.guards ?? []) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = g.name;
    button.dataset.guard = g.guard_id;
    button.addEventListener("click", () => {
      selectedGuard = g.guard_id;
      list.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b === button));
    });
    list.appendChild(button);
  }
}

async function unlock() {
  const message = $("login-message");
  if (!selectedGuard) { message.textContent = "请选择门卫 Choose your name"; return; }
  const { ok, body } = await call("POST", "/api/guard/unlock", { guard_id: selectedGuard, pin: $("pin").value });
  $("pin").value = "";
  if (!ok) {
    message.textContent = body.reason === "locked"
      ? `已锁定，请 ${body.retry_after_s} 秒后再试 Locked: try again in ${body.retry_after_s} s`
      : body.reason === "wrong_pin"
        ? `PIN 错误，还可尝试 ${body.attempts_left} 次 Wrong PIN: ${body.attempts_left} tries left`
        : (body.message ?? "无法登录 Cannot sign in");
    return;
  }
  csrf = body.csrf;
  autoLockMs = body.auto_lock_s * 1000;
  lastTouch = Date.now();
  message.textContent = "";
  document.body.className = "unlocked";
  $("login").hidden = true;
  $("desk").hidden = false;
  $("guard-name").textContent = body.name;
  options = (await call("GET", "/api/guard/options")).body;
  setupForms();
  refresh();
}

// -- the desk ------------------------------------------------------------------------------
function setupForms() {
  fillSelect($("building"), Object.keys(options.places), "—");
  $("building").onchange = () => fillSelect($("unit"), options.places[$("building").value] ?? [], "—");
  fillSelect($("unit"), [], "—");
  fillSelect($("purpose"), options.purposes, "—");
  fillSelect($("risk_area"), ["none", ...options.risk_areas]);
  choiceGroup($("code_colour"), options.code_colours);
  fillSelect($("province"), options.provinces.split(""));
  choiceGroup($("override-decision"), ["admit", "deny"], (decision) =>
    choiceGroup($("override-reason"), decision === "admit" ? options.admit_reasons : options.deny_reasons));
}

async function refresh() {
  if (!csrf) return;
  const { ok, body } = await call("GET", "/api/guard/state");
  if (!ok) return;
  $("silence").hidden = !body.alarm;
  $("direction").textContent = body.status.direction === "in" ? "方向：进 In" : "方向：出 Out";
  $("direction").dataset.direction = body.status.direction;
  $("pending-count").textContent = body.pending.length ? `(${body.pending.length})` : "";
  const notices = $("notices");
  notices.replaceChildren(...body.notices.map((n) => {
    const p = document.createElement("p");
    p.textContent = `${label(n.kind)}: ${n.pass_code} · ${new Date(n.at * 1000).toLocaleTimeString()}`;
    return p;
  }));
  const list = $("pending-list");
  list.replaceChildren(...body.pending.map((event) => {
    const li = document.createElement("li");
    li.dataset.event = event.id;
    const text = document.createElement("span");
    const what = event.kind === "visitor" ? label("held") + " · " + label(event.reason) : label(event.verdict);
    text.textContent = `#${event.seq} ${event.time} ${what} ${event.estimate_c != null ? event.estimate_c.toFixed(1) + " °C" : ""} ${event.phone ?? ""}`;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "处置 Decide";
    button.addEventListener("click", () => openOverride(event));
    li.append(text, button);
    return li;
  }));
  const health = $("health");
  const s = body.status;
  const rows = [
    ["测温设备 Sensor", s.sensor_fault ? "故障 FAULT: " + s.sensor_fault : `正常 OK (${s.sensor_ok_s_ago ?? "?"} s)`],
    ["屏幕 Screen", s.screen],
    ["台账记录 Events", s.events],
    ["待同步 Sync queue", `${body.sync.queue}${body.sync.configured ? "" : " (未配置中心 no hub configured)"}`],
    ...(body.sync.configured ? [
      ["最近同步 Last sync", body.sync.last_success ?? "—"],
      ["最早未同步 Oldest unsent", body.sync.oldest_unsent ?? "—"],
      ["同步错误 Sync error", body.sync.revoked ? "令牌已吊销 TOKEN REVOKED: " + body.sync.last_error : (body.sync.last_error ?? "—")],
    ] : []),
  ];
  health.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
}

function openOverride(event) {
  overrideTarget = event;
  $("override").hidden = false;
  $("override-target").textContent = `#${event.seq} ${label(event.kind === "visitor" ? "held" : event.verdict)}`;
  $("remeasured").value = "";
  $("note").value = "";
  $("override-reason").replaceChildren();
  $("override-decision").querySelectorAll("button").forEach((b) => b.classList.remove("active"));
  $("override").querySelector(".message").textContent = "";
}

function formMessage(form, result, okText) {
  const message = form.querySelector(".message");
  message.className = result.ok ? "message ok" : "message";
  message.textContent = result.ok ? okText : (result.body.message ?? "错误 Error");
}

async function submitOverride(event) {
  event.preventDefault();
  const remeasured = $("remeasured").value;
  const result = await call("POST", "/api/guard/override", {
    event_id: overrideTarget?.id, decision: picked($("override-decision")),
    reason: picked($("override-reason")), note: $("note").value,
    remeasured_c: remeasured === "" ? null : Number(remeasured),
  });
  formMessage($("override"), result, `已记录 Recorded #${result.body.seq}`);
  if (result.ok) { $("override").hidden = true; refresh(); }
}

async function submitVisitor(event) {
  event.preventDefault();
  const result = await call("POST", "/api/guard/visitor", {
    phone: $("phone").value, building: $("building").value, unit: $("unit").value,
    purpose: $("purpose").value, risk_area: $("risk_area").value,
    code_colour: picked($("code_colour")), name: $("visitor-name").value,
  });
  formMessage($("visitor"), result, result.body.held
    ? `已登记，需门卫处置 Registered, held: ${label(result.body.reason)}`
    : `已登记，请访客上前测温 Registered: visitor may step up (#${result.body.seq})`);
  if (result.ok) { $("phone").value = ""; $("visitor-name").value = ""; refresh(); }
}

async function submitVehicle(event) {
  event.preventDefault();
  const result = await call("POST", "/api/guard/vehicle", {
    plate: $("province").value + $("plate").value, direction: picked($("vehicle-direction")),
  });
  formMessage($("vehicle"), result, `已登记 Logged ${result.body.plate} (#${result.body.seq})`);
  if (result.ok) $("plate").value = "";
}

async function showToday() {
  const { body } = await call("GET", "/api/guard/today");
  const tbody = $("today").tBodies[0];
  tbody.replaceChildren(...(body.events ?? []).map((e) => {
    const tr = document.createElement("tr");
    for (const cell of [e.seq, e.time, label(e.kind), label(e.verdict),
      e.estimate_c != null ? e.estimate_c.toFixed(1) : "", e.plate ?? e.phone ?? e.pass_code ?? ""]) {
      const td = document.createElement("td"); td.textContent = cell; tr.appendChild(td);
    }
    return tr;
  }));
}

document.querySelectorAll("nav button").forEach((button) => button.addEventListener("click", () => {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b === button));
  document.querySelectorAll(".tab").forEach((tab) => { tab.hidden = tab.id !== "tab-" + button.dataset.tab; });
  if (button.dataset.tab === "today") showToday();
}));
$("silence").addEventListener("click", async () => { await call("POST", "/api/guard/silence"); refresh(); });
$("direction").addEventListener("click", async () => {
  await call("POST", "/api/guard/direction", { direction: $("direction").dataset.direction === "in" ? "out" : "in" });
  refresh();
});
$("lock").addEventListener("click", async () => { await call("POST", "/api/guard/lock"); showLogin(); });
$("override").addEventListener("submit", submitOverride);
$("visitor").addEventListener("submit", submitVisitor);
$("vehicle").addEventListener("submit", submitVehicle);
$("vehicle-done").addEventListener("click", () => call("POST", "/api/guard/vehicle/done"));
choiceGroup($("vehicle-direction"), ["in", "out"]);
$("vehicle-direction").querySelector("button").classList.add("active");
$("pin").addEventListener("keydown", (event) => { if (event.key === "Enter") unlock(); });
document.addEventListener("pointerdown", () => { lastTouch = Date.now(); });
setInterval(() => {
  if (csrf && Date.now() - lastTouch > autoLockMs) { call("POST", "/api/guard/lock"); showLogin(); }
  else refresh();
}, 2000);

buildKeypads();
// The sign-in keypad has an OK key of its own.
const ok = document.createElement("button");
ok.type = "button"; ok.id = "pin-ok"; ok.textContent = "OK"; ok.className = "primary";
ok.addEventListener("click", unlock);
document.querySelector("#login .keypad").appendChild(ok);
showLogin();
