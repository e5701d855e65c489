// The guard screen: PIN unlock, then decisions, visitors, vehicles, today's ledger, health.
// Made for a finger on 800x480: big targets, forms in steps, lists in pages, nothing scrolls.
"use strict";

const $ = (id) => document.getElementById(id);
const LABELS = {
  blocked: "体温异常", fault: "测温失败", held: "访客待审",
  admitted: "放行", denied: "不放行", registered: "已登记", expired: "已过期",
  sounding: "响铃", silenced: "已消音", accepted: "有效", refused: "无效", retry: "请重测",
  screening: "测温", visitor: "访客", vehicle: "车辆", override: "处置", alarm: "报警",
  identify: "验码", sensor_fault: "设备故障", sensor_recovered: "设备恢复",
  remeasured_normal: "复测正常", exertion_or_sun: "运动/日晒", device_error: "设备误报",
  emergency: "紧急情况", other: "其他", fever_confirmed: "确认发热", risk_area: "风险地区",
  health_code: "健康码异常", refused_measurement: "拒绝测温",
  visit_family: "探亲访友", delivery: "快递外卖", repair: "维修", housekeeping: "家政",
  medical: "医护", official: "公务", green: "绿码", yellow: "黄码", red: "红码", none: "无",
  code_yellow: "黄码", code_red: "红码", in: "进", out: "出",
  quarantine: "居家隔离住户刷码", admit: "放行", deny: "不放行",
  shift: "上下岗", disinfection: "消毒", on: "上岗", off: "下岗", done: "已消毒",
  yes: "有", no: "没有", guard_pin: "PIN 输错", 1: "1人", 2: "2人", 3: "3人", 4: "4人", 5: "5人",
  pass_refused: "通行码未通过，待您核实", unknown: "未知通行码", revoked: "已停用",
  format: "格式不对", wrong_compound: "非本小区", unattended: "门卫不在岗", hub_cleared: "中心解除等待",
};
// A result whose word depends on the record's kind: a refused sign-on is not a refused pass.
const KIND_LABELS = {
  "shift/blocked": "体温异常，不能上岗", "shift/refused": "拒绝上岗",
  "guard_pin/locked": "连续输错，暂停输入", "guard_pin/wrong": "输错后又输对",
};
const label = (key, kind) => KIND_LABELS[`${kind}/${key}`] ?? LABELS[key] ?? key ?? "";
const PAGE_PENDING = 4;
const ROW_TODAY_PX = 37;  // a row of today's ledger (td 36 px + its border)
let csrf = null;
let autoLockMs = 120000;
let selectedGuard = null;
let options = null;
let overrideTarget = null;
let pending = [];
let pendingPage = 0;
let todayRows = [];
let todayPage = 0;
let visitorSameAs = null;  // 常来访客: the earlier record whose phone, name and ID are taken
let visitorEarlier = null;  // what that record has (has_name, has_id), for the summary
let nameParts = { surname: "", title: "" };
let roomMode = "pick";  // "pick" from the roster's rooms, or "type" on the keypad
let dutyLists = "";  // the places and agents last drawn (redrawn only when they change)

async function call(method, path, payload) {
  const init = { method, headers: {} };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    if (csrf) init.headers["X-CSRF-Token"] = csrf;
    init.body = JSON.stringify(payload ?? {});
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    return { ok: false, status: 0, body: { message: "连接中断，请重试 Connection lost" } };
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 && csrf) lockAndLeave();
  else if (response.status === 403 && body.reason === "fever_blocked" && csrf) barred(body.message);
  return { ok: response.ok, status: response.status, body };
}

function button(text, onClick, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (className) b.className = className;
  b.addEventListener("click", onClick);
  return b;
}

function buildKeypads() {
  document.querySelectorAll(".keypad").forEach((pad) => {
    let keys = "123456789".split("").concat([pad.dataset.dot ? "." : "⌫", "0"], pad.dataset.dot ? ["⌫"] : []);
    if (pad.dataset.letters) keys = "1234567890ABCDEFGHJKLMNPQRSTUVWXYZ挂学".split("").concat(["⌫"]);
    if (pad.dataset.x) keys = "123456789X0⌫".split("");  // an ID number ends in a digit or X
    for (const key of keys) {
      const b = button(key, () => {
        const target = $(pad.dataset.target);
        if (key === "⌫") target.value = target.value.slice(0, -1);
        else if (target.value.length < target.maxLength) target.value += key;
        if (target.id === "phone") { visitorSameAs = null; visitorEarlier = null; }
      });
      b.dataset.key = key;
      pad.appendChild(b);
    }
    if (pad.dataset.next) {
      const next = button("下一步", () => visitorStep(Number(pad.dataset.next)), "next");
      next.dataset.key = "next";
      pad.appendChild(next);
    }
  });
}

function choiceGroup(container, values, onPick, active) {
  container.replaceChildren();
  for (const value of values) {
    const b = button(label(value), () => {
      container.querySelectorAll("button").forEach((x) => x.classList.toggle("active", x === b));
      onPick?.(value);
    });
    b.dataset.value = value;
    if (value === active) b.classList.add("active");
    container.appendChild(b);
  }
}
const picked = (container) => container.querySelector("button.active")?.dataset.value ?? null;
const pick = (container, value) => container.querySelectorAll("button").forEach(
  (b) => b.classList.toggle("active", b.dataset.value === value));

function showStep(form, step) {
  form.querySelectorAll(".step").forEach((s) => { s.hidden = s.dataset.step !== String(step); });
}

// A choice group too long for the screen, in pages (‹ 上一页 / 下一页 ›). The choice is kept in
// data-selected, so that turning the page does not lose it.
function pagedChoice(container, pagerBox, values, perPage, onPick, active) {
  const pages = Math.max(1, Math.ceil(values.length / perPage));
  let page = Number(container.dataset.page || 0);
  if (active != null && values.includes(active)) page = Math.floor(values.indexOf(active) / perPage);
  page = Math.min(page, pages - 1);
  container.dataset.page = String(page);
  if (active != null) container.dataset.selected = active;
  const current = container.dataset.selected;
  const chosen = (value) => { container.dataset.selected = value; onPick?.(value); };
  choiceGroup(container, values.slice(page * perPage, (page + 1) * perPage), chosen, current);
  pager(pagerBox, page, pages, (to) => {
    container.dataset.page = String(to);
    pagedChoice(container, pagerBox, values, perPage, onPick, null);
  });
}

function pager(container, page, pages, onPage) {
  container.replaceChildren();
  if (pages <= 1) return;
  const prev = button("‹ 上一页", () => onPage(page - 1));
  prev.disabled = page === 0;
  const next = button("下一页 ›", () => onPage(page + 1));
  next.disabled = page >= pages - 1;
  const where = document.createElement("span");
  where.textContent = `${page + 1} / ${pages}`;
  container.append(prev, where, next);
}

// -- sign-in and lock ----------------------------------------------------------------------
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
    const b = button(g.name, () => {
      selectedGuard = g.guard_id;
      list.querySelectorAll("button").forEach((x) => x.classList.toggle("active", x === b));
    });
    b.dataset.guard = g.guard_id;
    list.appendChild(b);
  }
}

function clearForms() {
  // Whatever was half typed goes with the lock: the next person at the screen sees none of it.
  for (const form of document.querySelectorAll("form")) form.reset();
  for (const input of document.querySelectorAll("input")) input.value = "";
  document.querySelectorAll(".message").forEach((m) => { m.textContent = ""; });
  document.querySelectorAll(".choice button.active").forEach((b) => b.classList.remove("active"));
  visitorSameAs = null;
  visitorEarlier = null;
  nameParts = { surname: "", title: "" };
  delete $("room").dataset.selected;
  delete $("surname").dataset.selected;
  dutyLists = "";
  overrideTarget = null;
  $("override").hidden = true;
  $("pending-view").hidden = false;
  $("urgent").hidden = true;
}

async function lockAndLeave() {
  const wasUnlocked = csrf !== null;
  clearForms();
  if (wasUnlocked) await call("POST", "/api/guard/lock");
  csrf = null;
  display.toResident();
}

async function barred(message) {
  // A fever at this guard's sign-on: the session is over; they read why and whom to call.
  clearForms();
  csrf = null;
  await showLogin();
  $("login-message").textContent = message;
}

async function unlock() {
  const message = $("login-message");
  if (!selectedGuard) { message.textContent = "请先选择您的姓名 Choose your name"; return; }
  const { ok, body } = await call("POST", "/api/guard/unlock", { guard_id: selectedGuard, pin: $("pin").value });
  $("pin").value = "";
  if (!ok) {
    message.textContent = body.reason === "fever_blocked" ? body.message : body.reason === "locked"
      ? `已锁定，请 ${body.retry_after_s} 秒后再试 Locked: try again in ${body.retry_after_s} s`
      : body.reason === "wrong_pin"
        ? `PIN 错误，还可尝试 ${body.attempts_left} 次 Wrong PIN: ${body.attempts_left} tries left`
        : (body.message ?? "无法登录 Cannot sign in");
    return;
  }
  clearForms();  // nothing of the last person's at the screen (a message, a half-made choice)
  csrf = body.csrf;
  autoLockMs = body.auto_lock_s * 1000;
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
  choiceGroup($("building"), Object.keys(options.places), (building) => {
    $("place-picked").textContent = building + " 栋";
    $("unit").hidden = false;
    choiceGroup($("unit"), options.places[building] ?? [], (unit) => {
      setupRoom(building, unit, null);
      visitorStep(3);
    });
  });
  $("unit").hidden = true;
  $("surname").dataset.page = "0";
  pagedChoice($("surname"), $("surname-pager"), options.surnames, 36, (surname) => {
    nameParts.surname = surname;
    nameChanged(true);
  });
  choiceGroup($("title"), options.titles, (title) => {
    nameParts.title = title;
    nameChanged(true);
  });
  choiceGroup($("purpose"), options.purposes);
  choiceGroup($("risk_area"), ["none", ...options.risk_areas], null, "none");
  choiceGroup($("code_colour"), options.code_colours);
  const recent = $("recent");
  recent.replaceChildren(...options.recent_visitors.map((v) => {
    const where = [v.building, v.unit, v.room].filter(Boolean).join("-");
    const b = button(`${v.phone} · ${where} · ${label(v.purpose)}`, () => {
      visitorSameAs = v.id;
      visitorEarlier = v;
      $("phone").value = v.phone;
      pick($("building"), v.building);
      $("building").querySelector(`button[data-value="${CSS.escape(v.building)}"]`)?.click();
      pick($("unit"), v.unit);
      setupRoom(v.building, v.unit, v.room);
      pick($("purpose"), v.purpose);
      // The name and the ID number are the earlier record's (the server takes them from it):
      // an earlier record without a name (from before the form asked) asks for one now.
      visitorStep(v.has_name && v.room ? 6 : v.room ? 4 : 3);
    });
    b.dataset.visitor = v.id;
    return b;
  }));
  $("recent").previousElementSibling.hidden = options.recent_visitors.length === 0;
  // The province picker: a grid of big buttons over the keypad (a <select>'s list rows are far
  // under 48 px on the touchscreen: field trial).
  choiceGroup($("province-list"), options.provinces.split(""), (p) => {
    $("province").dataset.value = p;
    $("province").textContent = `${p} ▾`;
    provinceList(false);
  }, $("province").dataset.value);
  choiceGroup($("vehicle-direction"), ["in", "out"], null, "in");
  choiceGroup($("vehicle-occupants"), ["1", "2", "3", "4", "5"], null, "1");
  choiceGroup($("visitors-at-home"), ["no", "yes"]);
  choiceGroup($("override-decision"), ["admit", "deny"], (decision) =>
    choiceGroup($("override-reason"), decision === "admit" ? options.admit_reasons : options.deny_reasons));
}

// Step 2 of a decision: "other" is detailed with one touch (no keyboard at the kiosk), and
// admitting over a fever needs the guard's PIN again, typed on the same keypad.
function overrideStep2() {
  const decision = picked($("override-decision"));
  const other = picked($("override-reason")) === "other";
  $("note-choices").hidden = !other;
  if (other) choiceGroup($("note-choices"), options.other_notes?.[decision] ?? []);
  const needsPin = decision === "admit" && overrideTarget?.admit_needs_pin === true;
  $("override-pin").hidden = !needsPin;
  $("override-pin").value = "";
  keypadTarget($("override").querySelector(".keypad"), "remeasured");
  showStep($("override"), 2);
}

function keypadTarget(pad, id) {
  pad.dataset.target = id;
  for (const input of pad.parentElement.querySelectorAll("input")) input.classList.toggle("typing", input.id === id);
}

function provinceList(open) {
  $("province-list").hidden = !open;
  $("vehicle").querySelector(".keypad").hidden = open;
}

// The rooms of a unit, from the roster (one touch each, in pages), or typed on the keypad when
// the roster knows none for it.
function setupRoom(building, unit, room) {
  const rooms = options.rooms?.[building]?.[unit] ?? [];
  roomMode = rooms.length ? "pick" : "type";
  $("room-where").textContent = `${building} 栋 ${unit} 单元`;
  $("room-pick").hidden = roomMode !== "pick";
  $("room-type").hidden = roomMode !== "type";
  $("room-typed").value = roomMode === "type" ? (room ?? "") : "";
  $("room").dataset.page = "0";
  delete $("room").dataset.selected;
  $("room-next").hidden = roomMode !== "pick";  // typed: the keypad has its own 下一步
  if (roomMode === "pick") pagedChoice($("room"), $("room-pager"), rooms, 24, () => visitorStep(4), room);
  else $("room-pager").replaceChildren();
}

const roomValue = () => (roomMode === "pick" ? $("room").dataset.selected : $("room-typed").value) ?? "";

function nameChanged(advance) {
  $("visitor-name").value = nameParts.surname + nameParts.title;
  if (nameParts.surname || nameParts.title) visitorEarlier = visitorEarlier && { ...visitorEarlier, has_name: false };
  if (advance && nameParts.surname && nameParts.title) visitorStep(5);
}

function clearName() {
  nameParts = { surname: "", title: "" };
  delete $("surname").dataset.selected;
  $("visitor-name").value = "";
  pick($("surname"), null);
  pick($("title"), null);
}

const maskId = (id) => (id.length === 18 ? id.slice(0, 6) + "********" + id.slice(-4) : id);

function visitorStep(step) {
  const form = $("visitor");
  form.querySelectorAll(".message").forEach((m) => { m.textContent = ""; m.className = "message"; });
  if (step === 6) {
    const where = [picked($("building")), picked($("unit")), roomValue()].filter(Boolean).join("-");
    const name = $("visitor-name").value || (visitorEarlier?.has_name ? "姓名同上次" : "");
    const id = $("id_number").value ? `证 ${maskId($("id_number").value)}`
      : visitorEarlier?.has_id ? "证件同上次" : "无证件";
    $("visitor-summary").textContent = [$("phone").value, where, name, id].filter(Boolean).join(" · ");
  }
  if (step === 2 && !picked($("unit"))) $("unit").hidden = !picked($("building"));
  showStep(form, step);
}

function stepMessage(step, text) {
  const message = $("visitor").querySelector(`.step[data-step='${step}'] .message`);
  message.className = "message";
  message.textContent = text;
}

async function refresh() {
  if (!csrf) return;
  // The poll is not a touch: it tells the server how long ago the screen was last touched.
  const touchedAgo = Math.max(0, (Date.now() - display.state.lastTouch) / 1000).toFixed(1);
  const { ok, body } = await call("GET", "/api/guard/state?touched_ago_s=" + touchedAgo);
  if (!ok) return;
  $("silence").hidden = !body.alarm;
  $("direction").textContent = body.status.direction === "in" ? "方向：进" : "方向：出";
  $("direction").dataset.direction = body.status.direction;
  pending = body.pending;
  $("pending-count").textContent = pending.length ? `(${pending.length})` : "";
  if (!body.status.awaiting_guard && !pending.some((p) => p.verdict === "blocked")) $("urgent").hidden = true;
  // One notice at a time (the newest), and none while a verdict needs the guard first.
  const more = body.notices.length > 1 ? `（另有 ${body.notices.length - 1} 条）` : "";
  $("notices").hidden = !$("urgent").hidden;
  $("notices").replaceChildren(...body.notices.slice(-1).map((n) => {
    const row = document.createElement("div");
    row.className = "notice";
    const text = document.createElement("span");
    text.textContent = n.kind === "pass_refused"
      ? `${n.time} ${label(n.kind)}（${label(n.reason)}）：测温正常，未放行，请到“待处理”处置${more}`
      : `${n.time} ${label(n.kind)}：${n.place || "—"}（通行码 ${n.pass_code}）${more}`;
    const dismiss = button("知道了 ✕", async () => { await call("POST", "/api/guard/notice/dismiss", { notice_id: n.id }); refresh(); });
    dismiss.dataset.notice = n.id;
    row.append(text, dismiss);
    return row;
  }));
  renderPending();
  renderDuty(body.duty);
  if (!$("tab-today").hidden && todayPerPage() !== renderToday.perPage) renderToday();
  $("health").replaceChildren(...body.health.flatMap((row) => {
    const dt = document.createElement("dt"); dt.textContent = row.label;
    const dd = document.createElement("dd"); dd.textContent = row.value;
    return [dt, dd];
  }));
}

// -- duty: sign-on with the household question and a temperature, sign-off, disinfection ----
const SIGN_ON_WORDS = {
  measuring: ["ok", "请正对测温探头，保持不动…"],
  retry: ["", "没有测好：请正对探头，保持不动，再测一次"],
  expired: ["", "测温超时：请重新点“上岗测温”"],
  not_recorded: ["", "无法记录，请联系维护人员"],
  sensor_fault: ["", "测温设备故障，不能测温上岗：请联系维护人员，设备恢复后再点“上岗测温”"],
};

let lastSignOnState;  // the sign-on's state at the last render: a lapse is seen once

const NOT_MINE = "已作废这次读数：请等住户离开后，您本人正对探头重测";

// Someone on duty here has a person from outside staying at home (they answered 有 at their
// sign-on): a notice on every tab while they are on duty; the manager decides on the hub.
function renderHousehold(flags) {
  // In the header, on every tab (it takes no room from the forms); the whole sentence on 上下岗.
  const names = flags.map((f) => f.name).join("、");
  $("household").hidden = !flags.length;
  $("household").textContent = flags.length ? `⚠ ${names} 家中有外来人员` : "";
  $("household-detail").hidden = !flags.length;
  $("household-detail").textContent = flags.length
    ? "⚠ " + flags.map((f) => `${f.name}（${f.since} 上岗）`).join("、")
      + " 上岗时报告家中有外来人员：请做好个人防护，是否换岗由物业经理在中心决定"
    : "";
}

function renderDuty(duty) {
  renderHousehold(duty.household ?? []);
  const others = duty.others.length ? ` · 在岗：${duty.others.join("、")}` : "";
  $("duty-status").textContent = (duty.on_duty ? `您已上岗（${duty.since} 起）` : "您未上岗") + others;
  $("sign-on").hidden = duty.on_duty;
  $("signed-on").hidden = !duty.on_duty;
  const result = duty.sign_on;
  const temperature = result?.estimate_c != null ? `${result.estimate_c.toFixed(1)} °C` : "";
  if (duty.on_duty) {
    $("signed-on-text").textContent = result?.state === "on"
      ? `体温 ${temperature} 正常，已上岗（记录 #${result.seq}）` : "";
  }
  const lapsed = result?.state === "expired" && lastSignOnState !== "expired";
  lastSignOnState = result?.state;
  if (lapsed && Date.now() - display.state.lastTouch > urgentLockMs) {
    // The sign-on lapsed with nobody at the screen: the guard tapped 上岗测温 and walked away.
    // Lock, so that the next person at the kiosk cannot use their screen.
    lockAndLeave();
    return;
  }
  const confirming = !duty.on_duty && result?.state === "confirm";
  $("sign-on-confirm").hidden = !confirming;
  $("sign-on-ask").hidden = confirming;
  $("sign-on-start").hidden = confirming;
  if (confirming) {
    $("sign-on-confirm-text").textContent = `刚才测得 ${temperature}（正常）。这是您本人的体温吗？`;
    $("sign-on-message").textContent = "";
  } else if (duty.on_duty) {
    // nothing more: the signed-on box says it
  } else if (result?.state === "blocked") {
    const message = $("sign-on-message");
    message.className = "message";
    message.textContent = `体温 ${temperature} 异常：本班不能上岗，已通知管理员（记录 #${result.seq}）`;
  } else if (result && SIGN_ON_WORDS[result.state]) {
    const [kind, text] = SIGN_ON_WORDS[result.state];
    $("sign-on-message").className = "message " + kind;
    $("sign-on-message").textContent = result.state === "sensor_fault" && result.message
      ? `测温设备故障（${result.message}），不能测温上岗：请联系维护人员，设备恢复后再点“上岗测温”`
      : result.state === "measuring" && result.again ? NOT_MINE : text;
  }
  const lists = JSON.stringify([duty.places, duty.agents]);
  if (lists !== dutyLists) {
    dutyLists = lists;
    const place = picked($("round-place"));
    choiceGroup($("round-place"), duty.places, null, place);
    choiceGroup($("round-agent"), duty.agents, null, picked($("round-agent")) ?? duty.agents[0]);
    if (!duty.places.length) $("round-message").textContent = "本机还没有消毒场所：请管理员在中心添加";
  }
  $("round-recent").textContent = duty.rounds.length
    ? "今日最近：" + duty.rounds.map((r) => `${r.time} ${r.place}（${r.agent}）`).join("；") : "";
}

async function signOn() {
  const message = $("sign-on-message");
  const answer = picked($("visitors-at-home"));
  if (!answer) {
    message.className = "message";
    message.textContent = "请先回答①：家里是否有外来人员";
    return;
  }
  const result = await call("POST", "/api/guard/shift/on", { visitors_at_home: answer });
  message.className = result.ok ? "message ok" : "message";
  message.textContent = result.ok ? SIGN_ON_WORDS.measuring[1] : (result.body.message ?? "出错了，请重试");
  if (result.ok) refresh();
}

async function confirmSignOn(own) {
  const result = await call("POST", "/api/guard/shift/confirm", { own });
  const message = $("sign-on-message");
  message.className = result.ok ? "message ok" : "message";
  message.textContent = result.ok
    ? (own === "yes" ? "" : NOT_MINE)
    : (result.body.message ?? "出错了，请重试");
  refresh();
}

async function signOff() {
  const result = await call("POST", "/api/guard/shift/off");
  $("sign-off-message").textContent = result.ok ? "" : (result.body.message ?? "出错了，请重试");
  if (result.ok) {
    pick($("visitors-at-home"), null);
    $("sign-on-message").className = "message ok";
    $("sign-on-message").textContent = `已下岗（记录 #${result.body.seq}）`;
    refresh();
  }
}

async function logRound() {
  const place = picked($("round-place"));
  const result = await call("POST", "/api/guard/disinfection", { place, agent: picked($("round-agent")) });
  const message = $("round-message");
  message.className = result.ok ? "message ok" : "message";
  message.textContent = result.ok ? `已登记：${place} 消毒（记录 #${result.body.seq}）` : (result.body.message ?? "出错了，请重试");
  if (result.ok) {
    pick($("round-place"), null);
    refresh();
  }
}

function describe(event) {
  let what = label(event.verdict);
  if (event.kind === "visitor") what = `${label("held")}·${label(event.reason)} ${event.phone ?? ""} ${event.place ?? ""}`;
  else if (event.pass_refused && event.verdict === "admitted") what = `${label("pass_refused")}·${label(event.pass_refused)}`;
  const temperature = event.estimate_c != null ? event.estimate_c.toFixed(1) + " °C" : "";
  return `${event.time} ${what} ${temperature}`;
}

function renderPending() {
  const pages = Math.max(1, Math.ceil(pending.length / PAGE_PENDING));
  pendingPage = Math.min(pendingPage, pages - 1);
  const shown = pending.slice(pendingPage * PAGE_PENDING, (pendingPage + 1) * PAGE_PENDING);
  $("pending-list").replaceChildren(...shown.map((event) => {
    const li = document.createElement("li");
    li.dataset.event = event.id;
    li.className = event.kind === "visitor" || (event.pass_refused && event.verdict === "admitted") ? "held" : event.verdict;
    const text = document.createElement("span");
    text.textContent = describe(event);
    li.appendChild(text);
    if (event.kind === "screening" && event.verdict === "blocked") {
      const again = button("复测 Re-measure", () => remeasure(event));
      again.className = "remeasure";
      li.appendChild(again);
    }
    const decide = button("处置 Decide", () => openOverride(event));
    decide.className = "decide";
    li.appendChild(decide);
    return li;
  }));
  $("pending-empty").hidden = pending.length > 0;
  pager($("pending-pager"), pendingPage, pages, (page) => { pendingPage = page; renderPending(); });
}

async function remeasure(event) {
  const { ok, body } = await call("POST", "/api/guard/remeasure", { event_id: event.id });
  const li = document.querySelector(`#pending-list li[data-event="${event.id}"] span`);
  if (li) li.textContent = ok ? "请被测人正对探头 · 复测中…" : (body.message ?? "错误");
  $("urgent").hidden = true;
}

function showTab(name) {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((tab) => { tab.hidden = tab.id !== "tab-" + name; });
  if (name === "today") showToday();
}

function openOverride(event) {
  overrideTarget = event;
  showTab("pending");
  $("pending-view").hidden = true;
  $("override").hidden = false;
  $("override-target").textContent = `处置：${describe(event)}`;
  $("remeasured").value = "";
  $("override-pin").value = "";
  $("override-reason").replaceChildren();
  $("override-decision").querySelectorAll("button").forEach((b) => b.classList.remove("active"));
  $("override").querySelector(".message").textContent = "";
  showStep($("override"), 1);
}

// A decision recorded is confirmed above the pending list for a few seconds.
function showDone(text) {
  const done = $("override-done");
  done.textContent = text;
  done.hidden = false;
  clearTimeout(showDone.timer);
  showDone.timer = setTimeout(() => { done.hidden = true; }, 6000);
}

function closeOverride() {
  $("override").hidden = true;
  $("pending-view").hidden = false;
  overrideTarget = null;
}

function formMessage(form, result, okText) {
  const messages = [...form.querySelectorAll(".message")];
  const message = messages.find((m) => !m.closest(".step")?.hidden) ?? messages[0];
  message.className = result.ok ? "message ok" : "message";
  message.textContent = result.ok ? okText : (result.body.message ?? "出错了，请重试 Error");
}

async function submitOverride(event) {
  event.preventDefault();
  const remeasured = $("remeasured").value;
  const result = await call("POST", "/api/guard/override", {
    event_id: overrideTarget?.id, decision: picked($("override-decision")),
    reason: picked($("override-reason")),
    note: $("note-choices").hidden ? null : picked($("note-choices")),
    remeasured_c: remeasured === "" ? null : Number(remeasured),
    pin: $("override-pin").hidden ? undefined : $("override-pin").value,
  });
  $("override-pin").value = "";
  if (!result.ok && ["decision", "reason", "event_id"].includes(result.body.field)) showStep($("override"), 1);
  formMessage($("override"), result, `已记录 #${result.body.seq}`);
  if (result.ok) {
    const what = picked($("override-decision")) === "admit" ? "已放行" : "已记录不放行";
    closeOverride();
    showDone(`${what}（记录 #${result.body.seq}）`);
    refresh();
  }
}

const VISITOR_STEP = { phone: 1, building: 2, unit: 2, room: 3, name: 4, id_number: 5 };

async function submitVisitor(event) {
  event.preventDefault();
  const payload = {
    building: picked($("building")) ?? "", unit: picked($("unit")) ?? "", room: roomValue(),
    purpose: picked($("purpose")) ?? "", risk_area: picked($("risk_area")) ?? "",
    code_colour: picked($("code_colour")) ?? "",
  };
  // A returning visitor's name and ID number come from their earlier record (the screen never
  // had them); whatever the guard entered now wins.
  if ($("visitor-name").value) payload.name = $("visitor-name").value;
  if ($("id_number").value) payload.id_number = $("id_number").value;
  if (visitorSameAs) payload.same_as = visitorSameAs; else payload.phone = $("phone").value;
  const result = await call("POST", "/api/guard/visitor", payload);
  if (!result.ok) visitorStep(VISITOR_STEP[result.body.field] ?? 6);
  const form = $("visitor");
  formMessage(form, result, "");
  if (result.ok) {
    clearVisitor();
    const done = form.querySelector(".step[data-step='1'] .message");
    done.className = "message ok";
    done.textContent = result.body.held
      ? `已登记，需门卫处置：${label(result.body.reason)}，访客测温后请在“待处理”中决定`
      : `已登记 #${result.body.seq}，请访客上前测温`;
    options = (await call("GET", "/api/guard/options")).body ?? options;
    setupForms();
    refresh();
  }
}

function clearVisitor() {
  $("phone").value = "";
  $("id_number").value = "";
  $("room-typed").value = "";
  visitorSameAs = null;
  visitorEarlier = null;
  clearName();
  delete $("room").dataset.selected;
  for (const id of ["building", "unit", "room", "purpose", "code_colour"]) {
    $(id).querySelectorAll("button").forEach((b) => b.classList.remove("active"));
  }
  pick($("risk_area"), "none");
  $("place-picked").textContent = "";
  showStep($("visitor"), 1);
}

async function submitVehicle(event) {
  event.preventDefault();
  const result = await call("POST", "/api/guard/vehicle", {
    plate: $("province").dataset.value + $("plate").value, direction: picked($("vehicle-direction")),
    occupants: Number(picked($("vehicle-occupants")) ?? 1),
  });
  formMessage($("vehicle"), result, `已登记 ${result.body.plate}（${label(picked($("vehicle-direction")))}）#${result.body.seq}`);
  if (result.ok) {
    $("plate").value = "";
    pick($("vehicle-occupants"), "1");
  }
}

async function showToday() {
  const { body } = await call("GET", "/api/guard/today");
  todayRows = body.events ?? [];
  todayPage = 0;
  renderToday();
}

// As many rows as fit between the headers and the pager: a notice or the red banner above the
// tabs takes room, and the pager must stay on the screen (field trial: it fell below it).
function todayPerPage() {
  const tab = $("tab-today");
  const free = tab.clientHeight - $("today").tHead.offsetHeight - 56 - 8;
  return Math.max(1, Math.floor(free / ROW_TODAY_PX));
}

function renderToday() {
  const perPage = todayPerPage();
  renderToday.perPage = perPage;
  const pages = Math.max(1, Math.ceil(todayRows.length / perPage));
  todayPage = Math.min(todayPage, pages - 1);
  const shown = todayRows.slice(todayPage * perPage, (todayPage + 1) * perPage);
  $("today").tBodies[0].replaceChildren(...shown.map((e) => {
    const tr = document.createElement("tr");
    for (const cell of [e.seq, e.time, label(e.kind), label(e.verdict, e.kind),
      e.estimate_c != null ? e.estimate_c.toFixed(1) : "", e.plate ?? e.phone ?? e.pass_code ?? ""]) {
      const td = document.createElement("td"); td.textContent = cell; tr.appendChild(td);
    }
    return tr;
  }));
  pager($("today-pager"), todayPage, pages, (page) => { todayPage = page; renderToday(); });
}

function showUrgent(screen) {
  const what = { blocked: "体温异常", fault: "测温失败", sensor_fault: "测温设备故障",
    not_recorded: "无法记录", held: "访客待审", guard_remeasure: "复测中" }[screen.screen] ?? screen.screen;
  const temperature = screen.estimate_c != null ? ` ${screen.estimate_c.toFixed(1)} °C` : "";
  $("urgent-text").textContent = `测温屏：${what}${temperature}`;
  $("urgent").hidden = screen.screen === "guard_remeasure";
  $("notices").hidden = !$("urgent").hidden;
  refresh();
}

// -- wiring --------------------------------------------------------------------------------
display.state.idleReturn = () => csrf === null;  // the locked sign-in page goes back by itself
// A fever or a fault while nobody has touched the unlocked screen for guard.urgent_lock_s: lock it
// and bring the resident screen forward (the person must not be able to clear themselves here).
const urgentLockMs = Number(document.body.dataset.urgentLockS || 10) * 1000;
// A sensor fault while this guard signs on: they stand at the sensor (not at the screen) and
// read the fault on the sign-on itself; locking would send them away with no reason (field trial).
const faultDuringSignOn = (screen) =>
  screen.screen === "sensor_fault" && ["measuring", "confirm", "sensor_fault"].includes(lastSignOnState);
// A resident at the sensor while the unlocked guard screen has not been touched for a while:
// the guard has walked away; lock, and give the display back to the resident.
display.state.onActivity = () => {
  if (csrf === null) display.toResident();
  else if (Date.now() - display.state.lastTouch > urgentLockMs) lockAndLeave();
};

display.state.onUrgent = (screen) => {
  if (csrf === null) display.toResident();
  else if (Date.now() - display.state.lastTouch > urgentLockMs && screen.screen !== "guard_remeasure"
    && !faultDuringSignOn(screen)) lockAndLeave();
  else showUrgent(screen);
};

document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
$("urgent-open").addEventListener("click", () => {
  $("urgent").hidden = true;
  $("notices").hidden = false;
  closeOverride();
  showTab("pending");
});
$("silence").addEventListener("click", async () => { await call("POST", "/api/guard/silence"); refresh(); });
$("direction").addEventListener("click", async () => {
  await call("POST", "/api/guard/direction", { direction: $("direction").dataset.direction === "in" ? "out" : "in" });
  refresh();
});
$("lock").addEventListener("click", lockAndLeave);
$("override").addEventListener("submit", submitOverride);
$("override").querySelector(".cancel").addEventListener("click", closeOverride);
$("override").querySelector(".next").addEventListener("click", overrideStep2);
for (const id of ["remeasured", "override-pin"]) {
  $(id).addEventListener("pointerdown", () => keypadTarget($("override").querySelector(".keypad"), id));
}
$("override").querySelector(".prev").addEventListener("click", () => showStep($("override"), 1));
$("visitor").addEventListener("submit", submitVisitor);
$("visitor").querySelectorAll(".prev").forEach((b) => b.addEventListener("click", () => {
  const step = Number(b.closest(".step").dataset.step);
  visitorStep(step - 1);
}));
$("vehicle").addEventListener("submit", submitVehicle);
$("province").addEventListener("click", () => provinceList($("province-list").hidden));
$("name-clear").addEventListener("click", () => { clearName(); });
$("name-next").addEventListener("click", () => {
  if ($("visitor-name").value || visitorEarlier?.has_name) visitorStep(5);
  else stepMessage(4, "姓名：请点姓氏，再点先生或女士");
});
$("room-next").addEventListener("click", () => {
  if (roomValue()) visitorStep(4);
  else stepMessage(3, "房号：请点选房号");
});
$("id-skip").addEventListener("click", () => { $("id_number").value = ""; visitorStep(6); });
$("id-next").addEventListener("click", () => {
  const id = $("id_number").value;
  if (id && id.length !== 18) stepMessage(5, `身份证号：应为 18 位，现为 ${id.length} 位，请核对`);
  else visitorStep(6);
});
$("vehicle-done").addEventListener("click", async () => {
  const result = await call("POST", "/api/guard/vehicle/done");
  formMessage($("vehicle"), result, "乘员测温完毕");
});
$("sign-on-start").addEventListener("click", signOn);
$("sign-off").addEventListener("click", signOff);
$("sign-on-mine").addEventListener("click", () => confirmSignOn("yes"));
$("sign-on-not-mine").addEventListener("click", () => confirmSignOn("no"));
$("round-log").addEventListener("click", logRound);
$("pin").addEventListener("keydown", (event) => { if (event.key === "Enter") unlock(); });
setInterval(() => {
  if (csrf && Date.now() - display.state.lastTouch > autoLockMs) lockAndLeave();
  else refresh();
}, 2000);

buildKeypads();
// The sign-in keypad has an OK key of its own.
const ok = button("确定", unlock, "primary");
ok.id = "pin-ok";
document.querySelector("#login .keypad").appendChild(ok);
showLogin();
